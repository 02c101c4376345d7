"""The ward overview for medical staff (`GET /api/v1/ward`): every resident in the caller's scope
with unit, room and bed, NEWS2 now (band, complete or not, observations due) and their open
alerts. The handover's "observations due" reads the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.api.deps import AUTHENTICATED, PLACE_ID, Conn, Offset, require
from services.api.repos import ward as repo
from services.api.routes.news2 import News2Summary, summaries
from services.auth import audit
from services.auth.principal import Principal
from services.careteam.store import current_team
from services.careteam.team import CareTeam

router = APIRouter(prefix="/api/v1/ward", tags=["residents"], responses=AUTHENTICATED)

# NEWS2 is resident data; the open alerts' count needs the alerts too.
Reader = Annotated[Principal, Depends(require("residents:read"))]
AlertReader = Annotated[Principal, Depends(require("alerts:read"))]


class WardResident(BaseModel):
    resident_id: int
    site_id: str
    unit_id: str
    display_name: str
    room: str | None
    bed: str | None
    timezone: str = Field(description="the site's time zone: times are shown in it")
    open_alerts: int = Field(description="unresolved alerts of the resident in the caller's scope")
    top_severity: str | None = Field(description="the most severe of them; null: none open")
    news2: News2Summary


class WardPage(BaseModel):
    items: list[WardResident]
    limit: int
    offset: int


def site_zone(team: CareTeam, site: str | None) -> str:
    """The site's time zone (the care team's `alerts.site_timezones`, else its default)."""
    return team.alerts.timezone_of(site) if site else team.alerts.default_timezone


async def ward_residents(
    conn: Conn,
    caller: Principal,
    *,
    site: str | None,
    unit: str | None,
    limit: int,
    offset: int,
    now: datetime,
) -> list[WardResident]:
    """The residents in the caller's scope (narrowed to `site` and `unit`), by unit, room and
    bed, with NEWS2 now and their open alerts."""
    rows: Sequence[repo.WardRow] = await repo.residents(
        conn,
        place=caller.place_sql("r.site_id", "r.unit_id", site, unit),
        alert_scope=caller.scope_sql("a.site_id", "a.unit_id"),
        limit=limit,
        offset=offset,
    )
    news2 = await summaries(
        conn,
        [(r.resident_id, r.news2_scale, r.site_overrides, r.own_overrides) for r in rows],
        now,
    )
    _, team = await current_team(conn)
    return [
        WardResident(
            resident_id=r.resident_id,
            site_id=r.site_id,
            unit_id=r.unit_id,
            display_name=r.display_name,
            room=r.room,
            bed=r.bed,
            timezone=site_zone(team, r.site_id),
            open_alerts=r.open_alerts,
            top_severity=r.top_severity,
            news2=news2[r.resident_id],
        )
        for r in rows
    ]


@router.get("")
async def ward_overview(
    conn: Conn,
    caller: Reader,
    _alerts: AlertReader,
    request: Request,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
    offset: Offset = 0,
) -> WardPage:
    """Every resident in the caller's scope by unit, room and bed: NEWS2 now (the band it
    proves, complete or not, observations due), open alerts (count and the most severe)."""
    items = await ward_residents(
        conn, caller, site=site, unit=unit, limit=limit, offset=offset, now=datetime.now(UTC)
    )
    await audit.record(conn, request, caller, "ward.list", "residents", site_id=site)
    return WardPage(items=items, limit=limit, offset=offset)
