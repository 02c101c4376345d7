"""Staff health check-ins (`/api/v1/staff-checkins`): a daily entry per member of staff
(temperature, symptoms) from the phone page, counted in the outbreak rules of the unit they
work in (docs/detection.md, "Outbreaks"); and, per site and day, who has checked in and who
with a shift that day has not (late once the shift has begun)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from rules.vocabulary import Symptom
from services.alerts.checkin_reminders import checked_in
from services.api.deps import AUTHENTICATED, PLACE_ID, Conn, errors, invalid, require
from services.api.repos import checkins as repo
from services.auth import audit
from services.auth.principal import Principal
from services.careteam.checkins import due_today, signs_of, work_unit
from services.careteam.roster import Roster
from services.careteam.store import current_team
from services.careteam.team import CareTeam, roster_of

router = APIRouter(prefix="/api/v1/staff-checkins", tags=["outbreaks"], responses=AUTHENTICATED)

# Anyone who charts observations checks themselves in; the day's list is the leads'.
Staffer = Annotated[Principal, Depends(require("observations:write"))]
Lead = Annotated[Principal, Depends(require("outbreaks:report"))]


class CheckIn(BaseModel):
    temperature: float = Field(ge=34, le=43, description="°C")
    symptoms: list[Symptom] = Field(default_factory=list, max_length=6, description="none: well")
    unit_id: str | None = Field(
        default=None,
        pattern=PLACE_ID,
        description="the unit worked in today; default the one the roster or account names",
    )


class CheckInOut(BaseModel):
    id: int
    staff_id: str
    name: str
    site_id: str
    unit_id: str
    day: date = Field(description="the site's local date")
    temperature: float
    symptoms: list[str]
    ts: datetime


class DueOut(BaseModel):
    staff_id: str
    name: str
    start: time = Field(description="their first shift today begins, local time")
    units: list[str] = Field(description="the shift's units (empty: every unit)")
    late: bool = Field(description="the shift has begun without a check-in")


class Day(BaseModel):
    site_id: str
    day: date
    checked_in: list[CheckInOut]
    missing: list[DueOut]


def _roster(team: CareTeam) -> Roster:
    # Shifts and staff only: the residents' contacts play no part in check-ins.
    return roster_of(team.model_copy(update={"contacts": ()}), {})


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 403))
async def check_in(body: CheckIn, conn: Conn, caller: Staffer, request: Request) -> CheckInOut:
    """The caller's check-in for today (their account must be linked to the roster)."""
    if caller.staff_id is None or caller.site_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "check-ins are for accounts linked to a member of staff"
        )
    site = caller.site_id
    _, team = await current_team(conn)
    now = datetime.now(UTC)
    day = now.astimezone(ZoneInfo(team.alerts.timezone_of(site))).date()
    roster = _roster(team)
    unit = body.unit_id or work_unit(roster, caller.staff_id, site, day)
    if unit is None and len(caller.unit_ids) == 1:
        [unit] = caller.unit_ids
    if unit is None:
        raise invalid(["body", "unit_id"], "say which unit you work in today")
    if not caller.covers(site, unit) or not await repo.unit_exists(
        conn, site_id=site, unit_id=unit
    ):
        raise invalid(["body", "unit_id"], f"unit {unit!r} is not one of yours")
    member = roster.staff.get(caller.staff_id)
    name = member.name if member is not None else caller.staff_id
    symptoms = sorted(set(body.symptoms))
    async with conn.transaction():
        person = await repo.person(conn, staff_id=caller.staff_id, name=name)
        row_id = await repo.record(
            conn,
            person_id=person,
            site_id=site,
            unit_id=unit,
            day=day,
            temperature=body.temperature,
            symptoms=symptoms,
            signs=signs_of(body.temperature, set(symptoms)),
            ts=now,
        )
        await audit.record(
            conn, request, caller, "checkin.create", f"staff/{caller.staff_id}", site_id=site
        )
    return CheckInOut(
        id=row_id,
        staff_id=caller.staff_id,
        name=name,
        site_id=site,
        unit_id=unit,
        day=day,
        temperature=body.temperature,
        symptoms=symptoms,
        ts=now,
    )


@router.get("", responses=errors(400, 403))
async def day_list(
    conn: Conn,
    caller: Lead,
    request: Request,
    site_id: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
) -> Day:
    """Today at a site (default the caller's): who checked in (in the caller's units) and who
    with a shift beginning today has not."""
    site = site_id or caller.site_id
    if site is None:
        raise invalid(["query", "site_id"], "which site?")
    if not caller.covers(site, next(iter(caller.unit_ids), None)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"site {site} is outside your scope")
    _, team = await current_team(conn)
    local = datetime.now(UTC).astimezone(ZoneInfo(team.alerts.timezone_of(site)))
    day = local.date()
    done = await checked_in(conn, site_id=site, day=day)
    scope = caller.scope_sql("c.site_id", "c.unit_id")
    rows = await repo.of_day(conn, site_id=site, day=day, scope=scope)
    due = due_today(_roster(team), site, local, done)
    # A lead of some units sees the staff due there (and site-wide shifts).
    mine = [d for d in due if not caller.unit_ids or not d.units or caller.unit_ids & set(d.units)]
    await audit.record(conn, request, caller, "checkin.list", f"site/{site}", site_id=site)
    return Day(
        site_id=site,
        day=day,
        checked_in=[CheckInOut(**r) for r in rows],
        missing=[
            DueOut(
                staff_id=d.staff_id, name=d.name, start=d.start, units=list(d.units), late=d.late
            )
            for d in mine
        ],
    )
