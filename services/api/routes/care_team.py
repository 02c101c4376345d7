"""The care team document (staff, shifts, contacts, partner hospitals, alert policy): read it,
replace it. Validated as a whole before it is stored; every problem is named by its path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, status
from pydantic import BaseModel

from services.api.deps import (
    AUTHENTICATED,
    NO_NUL,
    PLACE_ID,
    Conn,
    errors,
    invalid,
    nul_at,
    require,
)
from services.auth.principal import Principal
from services.careteam.errors import AlertConfigError
from services.careteam.roster import Role, on_duty
from services.careteam.store import current_team, placements, store_team
from services.careteam.team import BoardAlarm, load_care_team, roster_of
from services.notifications.delivery import scheme_of

router = APIRouter(prefix="/api/v1/care-team", tags=["care team"], responses=AUTHENTICATED)


_CHANNEL_KEYS = ("staff", "hospitals")


def _hidden(url: str) -> str:
    return f"{scheme_of(url)}://…"


def _redacted(document: dict[str, Any]) -> dict[str, Any]:
    """Channel URLs can hold passwords and tokens: shown by scheme only."""
    for key in _CHANNEL_KEYS:
        for entry in document.get(key, []):
            entry["channels"] = [_hidden(url) for url in entry["channels"]]
    return document


def _restored(document: dict[str, Any], stored: dict[str, Any]) -> list[tuple[str, str]]:
    """Put back, in place, each channel given as it was read (`scheme://…`) from the stored
    entry of the same id: an editor that read the redacted document can send it back without
    knowing the secrets. The problems: placeholders that match no stored channel."""
    problems = []
    for key in _CHANNEL_KEYS:
        entries = document.get(key)
        if not isinstance(entries, list):
            continue
        known = {e["id"]: e["channels"] for e in stored.get(key, [])}
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("channels"), list):
                continue
            spare = list(known.get(entry.get("id"), []))
            for j, url in enumerate(entry["channels"]):
                if not (isinstance(url, str) and url.endswith("://…")):
                    continue
                match = next((s for s in spare if _hidden(s) == url), None)
                if match is None:
                    problems.append(
                        (
                            f"{key}.{i}.channels.{j}",
                            "a hidden channel that is not stored here: give the full URL",
                        )
                    )
                    continue
                spare.remove(match)
                entry["channels"][j] = match
    return problems


@router.get("")
async def get_care_team(
    conn: Conn, _caller: Annotated[Principal, Depends(require("care_team:read"))]
) -> dict[str, Any]:
    version, team = await current_team(conn)
    return {"version": version, "document": _redacted(team.model_dump(mode="json"))}


# Who the board shows, in this order (family contacts are not on shifts).
WARD_ROLES: tuple[Role, ...] = (
    "caregiver",
    "nurse",
    "charge_nurse",
    "physician",
    "infection_control",
)


class OnDuty(BaseModel):
    id: str
    name: str
    role: str


@router.get("/on-duty")
async def on_duty_now(
    conn: Conn,
    caller: Annotated[Principal, Depends(require("alerts:read"))],
    site: Annotated[str, Query(pattern=PLACE_ID)],
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
) -> list[OnDuty]:
    """Who is on shift now at a site (and unit): the people a new alert there would page."""
    if not caller.covers(site, unit):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "that site or unit is outside your scope")
    _, team = await current_team(conn)
    roster = roster_of(team, await placements(conn))
    zone = team.alerts.timezone_of(site)
    now = datetime.now(UTC)
    found: dict[str, OnDuty] = {}
    for role in WARD_ROLES:
        for person in on_duty(roster, site, unit, role, now, zone):
            found.setdefault(person.id, OnDuty(id=person.id, name=person.name, role=role))
    return list(found.values())


class BoardSettings(BaseModel):
    site: str
    alarm: BoardAlarm


@router.get("/board")
async def board_settings(
    conn: Conn,
    caller: Annotated[Principal, Depends(require("alerts:read"))],
    site: Annotated[str, Query(pattern=PLACE_ID)],
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
) -> BoardSettings:
    """How the board at a site sounds while a high or critical alert is unacknowledged
    (`board_alarm` in the care team's `sites` or `site_defaults`)."""
    # A site-wide setting: without a unit, anyone who sees some unit of the site may read it.
    if unit is not None:
        allowed = caller.covers(site, unit)
    else:
        allowed = not caller.sees_no_resident and (caller.every_site or caller.site_id == site)
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "that site is outside your scope")
    _, team = await current_team(conn)
    return BoardSettings(site=site, alarm=team.policy(site).board_alarm)


@router.put("", responses=errors(400))
async def put_care_team(
    conn: Conn,
    caller: Annotated[Principal, Depends(require("care_team:write"))],
    document: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Replace the document; the alert service applies it within a second. A channel sent back
    as read (`scheme://…`) keeps the stored URL of the same person or hospital."""
    found = nul_at(document)
    if found is not None:  # stored as jsonb, which keeps no NUL character
        raise invalid(["body", *found], NO_NUL)
    try:
        _, stored = await current_team(conn)
        problems = _restored(document, stored.model_dump(mode="json"))
        if problems:
            raise AlertConfigError(problems)
        team = load_care_team(document)
        roster_of(team, await placements(conn))
    except AlertConfigError as exc:
        raise HTTPException(
            422,
            [
                {"loc": ["body", *key.split(".")], "msg": msg, "type": "value_error"}
                for key, msg in exc.problems
            ],
        ) from None
    async with conn.transaction():
        version = await store_team(conn, team, by=caller.username)
    return {"version": version}
