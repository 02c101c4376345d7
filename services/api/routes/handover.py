"""The shift handover (`GET /api/v1/handover`): what happened during the shift just ended (by the
care team's shifts in the site's time zone, services/careteam/handover.py) or a chosen window:
the alerts open at some time during it, with who acknowledged and how the resolved ones ended;
the referrals that moved; and, as of now, the residents whose observations are due."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.api.deps import AUTHENTICATED, PLACE_ID, Conn, Instant, errors, invalid, require
from services.api.repos import handover as repo
from services.api.routes.alerts import AlertOut
from services.api.routes.ward import WardResident, site_zone, ward_residents
from services.auth import audit
from services.auth.principal import Principal
from services.careteam.handover import LEAD, Window, handover_window
from services.careteam.store import current_team

router = APIRouter(prefix="/api/v1/handover", tags=["alerts"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("alerts:read"))]
ResidentReader = Annotated[Principal, Depends(require("residents:read"))]

MAX_WINDOW: Final = timedelta(days=7)
MAX_ALERTS: Final = 500
MAX_MOVES: Final = 1000
WARD_LIMIT: Final = 500  # residents looked at for observations due


class HandoverAlert(AlertOut):
    display_name: str | None = Field(description="the resident's name (null: no resident)")
    room: str | None
    bed: str | None


class WindowOut(BaseModel):
    start: datetime
    end: datetime
    until: datetime = Field(description="the report runs to here: the end, or now if later")
    basis: Literal["shift", "chosen", "default"] = Field(
        description="shift: the care team's shift just ended (or ending within the hour);"
        " chosen: `from` and `to`; default: no shift to go by, the last 12 hours"
    )
    timezone: str = Field(description="the site's time zone: times are shown in it")


class MoveOut(BaseModel):
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    staff_id: str | None
    side: str | None
    note: str


class MovedReferral(BaseModel):
    referral_id: int
    resident_id: int
    display_name: str | None
    room: str | None
    bed: str | None
    hospital_name: str
    state: str = Field(description="its state now")
    moves: list[MoveOut] = Field(description="the steps taken during the window, in order")


class Summary(BaseModel):
    opened: int = Field(description="alerts opened during the window")
    acknowledged: int = Field(description="alerts acknowledged during the window")
    resolved: int = Field(description="alerts resolved during the window")
    still_open: int = Field(description="alerts of the window not resolved yet")
    referrals: int = Field(description="referrals that moved")
    observations_due: int = Field(description="residents whose observations are due now")


class Handover(BaseModel):
    site_id: str | None
    unit_id: str | None
    window: WindowOut
    summary: Summary
    alerts: list[HandoverAlert] = Field(description="unresolved first, then by severity, age")
    alerts_truncated: bool = Field(description=f"more than {MAX_ALERTS}: the rest left out")
    referrals: list[MovedReferral]
    observations: list[WardResident] = Field(
        description="residents whose observations are due or overdue now, as `GET /api/v1/ward`"
    )
    staff: dict[str, str] = Field(description="care team names of the staff ids above")


EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)


def _window(
    start: datetime | None, end: datetime | None, at: datetime | None
) -> tuple[datetime, datetime] | None:
    """The chosen window, checked (422 naming the parameter); None: the shift's."""
    for name, value in (("from", start), ("to", end), ("at", at)):
        # A shift's days around a time at the edge of the calendar do not exist.
        if value is not None and not EARLIEST <= value <= LATEST:
            raise invalid(["query", name], "out of range: a time between 2000 and 2100")
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise invalid(["query", "from" if start is None else "to"], "give both from and to")
    if at is not None:
        raise invalid(["query", "at"], "give either at or from and to")
    if end <= start:
        raise invalid(["query", "to"], "to must be after from")
    if end - start > MAX_WINDOW:
        raise invalid(["query", "to"], f"a window is at most {MAX_WINDOW.days} days")
    return start, end


def _staff_names(
    staff: dict[str, str], alerts: list[dict[str, Any]], referrals: list[repo.MovedReferral]
) -> dict[str, str]:
    named = {a[key] for a in alerts for key in ("acknowledged_by", "resolved_by")}
    named |= {m.staff_id for r in referrals for m in r.moves}
    return {sid: staff[sid] for sid in sorted(n for n in named if n in staff)}


def _summary(
    alerts: list[dict[str, Any]], start: datetime, until: datetime, referrals: int, due: int
) -> Summary:
    def within(value: datetime | None) -> bool:
        return value is not None and start <= value <= until

    return Summary(
        opened=sum(within(a["opened_at"]) for a in alerts),
        acknowledged=sum(within(a["acknowledged_at"]) for a in alerts),
        resolved=sum(within(a["resolved_at"]) for a in alerts),
        still_open=sum(a["resolved_at"] is None for a in alerts),
        referrals=referrals,
        observations_due=due,
    )


@router.get("", responses=errors(400))
async def shift_handover(
    conn: Conn,
    caller: Reader,
    _residents: ResidentReader,
    request: Request,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    start: Annotated[Instant | None, Query(alias="from", description="a chosen window")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="with from")] = None,
    at: Annotated[
        Instant | None, Query(description="the shift that had ended by then (default: now)")
    ] = None,
) -> Handover:
    """The handover of the caller's place (narrowed to `site` and `unit`): alerts, referrals
    moved, observations due now. The window: `from`-`to` (at most 7 days), else the shift
    just ended by the care team's shifts in the site's time zone, or the one ending within
    the hour (`at`: the shift that had ended by then)."""
    now = datetime.now(UTC)
    chosen = _window(start, end, at)
    _, team = await current_team(conn)
    place = site or caller.site_id
    zone = site_zone(team, place)
    if chosen is None:
        # A user of one unit hands over that unit's shift.
        own_unit = next(iter(caller.unit_ids)) if len(caller.unit_ids) == 1 else None
        lead = LEAD if at is None else timedelta(0)
        window = handover_window(
            team, place, unit or own_unit, at or now, ZoneInfo(zone), lead=lead
        )
    else:
        window = Window(*chosen, "chosen")
    until = min(window.end, now)
    scope = caller.place_sql("a.site_id", "a.unit_id", site, unit)
    alerts = await repo.alerts_during(
        conn, scope=scope, start=window.start, end=until, limit=MAX_ALERTS + 1
    )
    moved = await repo.referral_moves(
        conn,
        scope=caller.place_sql("f.site_id", "f.unit_id", site, unit),
        start=window.start,
        end=until,
        limit=MAX_MOVES,
    )
    ward = await ward_residents(
        conn, caller, site=site, unit=unit, limit=WARD_LIMIT, offset=0, now=now
    )
    due = [r for r in ward if r.news2.observations.status != "ok"]
    await audit.record(conn, request, caller, "handover.read", "handover", site_id=site)
    return Handover(
        site_id=site,
        unit_id=unit,
        window=WindowOut(
            start=window.start,
            end=window.end,
            until=until,
            basis=window.basis,
            timezone=zone,
        ),
        summary=_summary(alerts[:MAX_ALERTS], window.start, until, len(moved), len(due)),
        alerts=[HandoverAlert(**a) for a in alerts[:MAX_ALERTS]],
        alerts_truncated=len(alerts) > MAX_ALERTS,
        referrals=[MovedReferral(**asdict(r)) for r in moved],
        observations=due,
        staff=_staff_names({s.id: s.name for s in team.staff}, alerts, moved),
    )
