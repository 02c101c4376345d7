"""A site's indicators over a date range (`GET /api/v1/indicators`): JSON, or the same figures
as CSV or XLSX rows. Counts and rates only, never a resident. Site-wide figures are for callers
who see the whole site (an administrator of it or of every site, a physician or nurse bound to
it with no unit limit, a regulator of its region); audited like every read. Definitions:
docs/indicators.md."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from services.api.deps import (
    AUTHENTICATED,
    OFFLINE_AFTER,
    PLACE_ID,
    Conn,
    errors,
    invalid,
    require,
)
from services.api.repos import contracts
from services.api.routes.contracts import TARGET
from services.api.routes.ward import site_zone
from services.api.spreadsheets import XLSX, table_download
from services.auth import audit
from services.auth.principal import Principal
from services.careteam.store import current_team
from services.catalogue import DEFAULT_LANGUAGE, Language, has, text
from services.indicators import store
from services.indicators.figures import Window, flatten, indicators
from services.regions import lead_hospital

router = APIRouter(prefix="/api/v1/indicators", tags=["indicators"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("indicators:read"))]
MAX_DAYS: Final = 366
# Days a report may cover: far enough for any record, near enough that a day's midnight in any
# zone is a datetime (date.max + 1 day is not).
EARLIEST: Final = date(2000, 1, 1)
LATEST: Final = date(2100, 12, 31)
COLUMNS: Final = ("indicator", "label", "value")
# Name parts that are a rule or syndrome, not a figure: their labels come from their own keys.
_GROUPS: Final = {
    "by_rule": "rule.",
    "by_syndrome": "syndrome.",
    "by_kind": "indicators.visit_kind.",
    "by_category": "indicators.contract_category.",
}


def _window(site_tz: str, first: date, last: date) -> Window:
    for name, day in (("from", first), ("to", last)):
        if not EARLIEST <= day <= LATEST:
            raise invalid(["query", name], f"a day from {EARLIEST} to {LATEST}")
    if last < first:
        raise invalid(["query", "to"], "to is before from")
    if (last - first).days + 1 > MAX_DAYS:
        raise invalid(["query", "to"], f"at most {MAX_DAYS} days at a time")
    zone = ZoneInfo(site_tz)
    start = datetime.combine(first, time(), zone)
    return Window(start, datetime.combine(last + timedelta(days=1), time(), zone))


@router.get(
    "",
    responses={
        200: {
            "content": {"application/json": {}, "text/csv": {}, XLSX: {}},
            "description": "the figures, as JSON, or as a CSV (format=csv) or XLSX"
            " (format=xlsx) file with one row per figure (dotted name, label, value)",
        },
        **errors(400, 404),
    },
)
async def site_indicators(
    conn: Conn,
    caller: Reader,
    request: Request,
    from_: From,
    to: To,
    site: Site = None,
    region: Region = None,
    format: Literal["json", "csv", "xlsx"] = "json",
    lang: Language = DEFAULT_LANGUAGE,
) -> Any:
    """The figures of a site, or of a region's sites together, for the days `from`..`to`
    (midnight to midnight in the sites' time zone)."""
    sites, zone, window = await _place(conn, caller, site, region, from_, to)
    now = datetime.now(UTC)
    read = await store.load(conn, sites, window, offline_after=OFFLINE_AFTER, now=now)
    read = replace(read, contracts=await _coverage(conn, sites, to, now))
    figures = indicators(window, read, now=now, target=TARGET)
    place = f"site/{site}" if site else f"region/{region}"
    await audit.record(conn, request, caller, "indicators.read", place, site_id=site)
    body = {
        "site_id": site,
        "region_id": region,
        "lead_hospital": await _lead_hospital(conn, region),
        "sites": sites,
        "from": from_.isoformat(),
        "to": to.isoformat(),
        "timezone": zone,
        **figures,
    }
    if format == "json":
        return body
    rows = [
        [name, label, value]
        for (name, _), (_, label, value) in zip(flatten(figures), _rows(lang, figures), strict=True)
    ]
    filename = f"indicators-{site or region}-{from_}-{to}.{format}"
    return table_download(COLUMNS, rows, format=format, filename=filename, sheet="indicators")


# Query parameters both routes take.
Site = Annotated[str | None, Query(pattern=PLACE_ID, description="a site, or:")]
Region = Annotated[str | None, Query(pattern=PLACE_ID, description="a region: its sites together")]
From = Annotated[date, Query(alias="from", description="first day, the sites' local date")]
To = Annotated[date, Query(description="last day (included), the sites' local date")]


@router.get("/outbreaks", responses=errors(400, 404))
async def outbreak_files(
    conn: Conn,
    caller: Reader,
    request: Request,
    from_: From,
    to: To,
    site: Site = None,
    region: Region = None,
) -> dict[str, Any]:
    """The outbreak case files of a site or region opened in the days `from`..`to`, drills
    marked: where, syndrome, status, when reported and to whom, and how many residents and
    staff their line lists hold. Counts only: no one named, no notes (a reason may name
    someone)."""
    sites, zone, window = await _place(conn, caller, site, region, from_, to)
    files = await store.outbreak_files(conn, sites, window)
    place = f"site/{site}" if site else f"region/{region}"
    await audit.record(conn, request, caller, "indicators.outbreaks", place, site_id=site)
    return {"sites": sites, "timezone": zone, "items": files}


async def _place(
    conn: Conn, caller: Principal, site: str | None, region: str | None, first: date, last: date
) -> tuple[list[str], str, Window]:
    """The sites asked for, if the caller may read them, their time zone and the window."""
    if (site is None) == (region is None):
        raise invalid(["query", "site"], "give a site or a region, one of them")
    sites = await (_site(conn, caller, site) if site else _region(conn, caller, region or ""))
    _, team = await current_team(conn)
    zones = {site_zone(team, s) for s in sites} or {site_zone(team, None)}
    if len(zones) > 1:
        raise invalid(["query", "region"], f"its sites are in different time zones: {zones}")
    zone = zones.pop()
    return sites, zone, _window(zone, first, last)


async def _coverage(
    conn: Conn, sites: list[str], on: date, now: datetime
) -> list[tuple[str, int, int]]:
    """Contract coverage per category on the period's last day (the contracts page's query,
    services/api/repos/contracts.py), the sites' counts added together."""
    totals: dict[str, tuple[int, int]] = {}
    for site in sites:
        for category, residents, contracted in await contracts.coverage(
            conn, site_id=site, on=on, now=now
        ):
            before = totals.get(category, (0, 0))
            totals[category] = (before[0] + residents, before[1] + contracted)
    return [(c, *totals.get(c, (0, 0))) for c in contracts.CATEGORIES]


async def _site(conn: Conn, caller: Principal, site: str) -> list[str]:
    exists, region = await store.site_region(conn, site)
    whole = caller.every_site or (caller.site_id == site and not caller.unit_ids)
    regulated = caller.region_id is not None and region == caller.region_id
    if not (whole or regulated):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"site {site} is outside your scope (the whole site)"
        )
    if not exists:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site}")
    return [site]


async def _region(conn: Conn, caller: Principal, region: str) -> list[str]:
    # A region's figures: its regulator's, and an administrator's of every site.
    if not (caller.every_site or caller.region_id == region):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"region {region} is outside your scope")
    sites = await store.region_sites(conn, region)
    if sites is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no region {region}")
    return sites


def _rows(
    lang: Language, figures: dict[str, Any], path: tuple[str, ...] = (), group: str = ""
) -> list[list[Any]]:
    """One row per figure: its dotted name, its words in `lang` (a rule's or syndrome's figure
    reads as the figure's label with the rule's name: rule ids hold dots themselves, so the
    labels follow the nesting, not the name) and its value."""
    out: list[list[Any]] = []
    for key, value in figures.items():
        if path and path[-1] in _GROUPS and not group:  # `key` is the rule or syndrome
            named = _GROUPS[path[-1]] + key
            here, words = path, text(lang, named) if has(lang, named) else key
        else:
            here, words = (*path, key), group
        if isinstance(value, dict):
            out += _rows(lang, value, here, words)
            continue
        label = text(lang, "indicators." + ".".join(here))
        out.append(["", f"{label} · {words}" if words else label, _value(value)])
    return out


def _value(value: object) -> object:
    return "" if value is None else value


async def _lead_hospital(conn: Conn, region: str | None) -> dict[str, str] | None:
    """A region's consortium lead hospital, by id and name (the care team's entry)."""
    hospital_id = None if region is None else await lead_hospital(conn, region)
    if hospital_id is None:
        return None
    _, team = await current_team(conn)
    name = next((h.name for h in team.hospitals if h.id == hospital_id), hospital_id)
    return {"id": hospital_id, "name": name}
