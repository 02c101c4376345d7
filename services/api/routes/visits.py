"""Home visits and rounds: a schedule per resident (blood pressure twice a day, a family-doctor
visit monthly), visits recorded against it (their observations go through the manual-
observation path, so they count toward NEWS2), and the overdue list of the caller's scope.
Overdue schedules also page a reminder (services/visits/reminders.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from services.api.deps import (
    AUTHENTICATED,
    PLACE_ID,
    Conn,
    Instant,
    PgText,
    errors,
    invalid,
    require,
    resident_in_scope,
)
from services.api.repos import residents as residents_repo
from services.api.repos import visits as repo
from services.api.routes.residents import MAX_OBSERVATION_AGE, Observations
from services.auth import audit
from services.auth.principal import Principal
from services.visits.due import due

router = APIRouter(tags=["visits"], responses=AUTHENTICATED)
SCHEDULES = "/api/v1/residents/{resident_id}/visit-schedules"

Reader = Annotated[Principal, Depends(require("visits:read"))]
Writer = Annotated[Principal, Depends(require("visits:write"))]

Kind = Literal["vitals_round", "family_doctor_visit", "nurse_visit"]


class ScheduleIn(BaseModel):
    kind: Kind
    label: Annotated[PgText, Field(min_length=1, max_length=200)]
    interval_hours: int = Field(ge=1, le=8784, description="12: twice a day; 720: monthly")
    starts_at: Instant | None = Field(default=None, description="first due; default now")


class ScheduleOut(BaseModel):
    schedule_id: int
    resident_id: int
    display_name: str
    site_id: str
    unit_id: str
    kind: Kind
    label: str
    interval_hours: int
    starts_at: datetime
    active: bool
    last_done_at: datetime | None
    due_at: datetime
    overdue: bool
    late_minutes: int


class VisitIn(BaseModel):
    done_at: Instant | None = Field(default=None, description="default now")
    note: Annotated[PgText, Field(max_length=1000)] = ""
    observations: Observations | None = Field(
        default=None, description="charted as manual observations (they count toward NEWS2)"
    )


class ActiveIn(BaseModel):
    active: bool


def _out(row: dict[str, Any], now: datetime) -> ScheduleOut:
    when = due(
        starts_at=row["starts_at"],
        interval=timedelta(hours=row["interval_hours"]),
        last_done=row["last_done_at"],
        now=now,
    )
    return ScheduleOut(
        **row,
        due_at=when.due_at,
        overdue=row["active"] and when.overdue,
        late_minutes=int(when.late_by.total_seconds() // 60) if row["active"] else 0,
    )


async def _schedule(conn: Conn, caller: Principal, resident_id: int, schedule_id: int) -> Any:
    """The schedule (404: none of this resident), if the caller may see the resident."""
    found = await repo.get(conn, schedule_id=schedule_id)
    if found is None or found["resident_id"] != resident_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no schedule {schedule_id} of {resident_id}"
        )
    await resident_in_scope(conn, caller, resident_id)
    return found


@router.post(SCHEDULES, status_code=status.HTTP_201_CREATED, responses=errors(400, 404))
async def add_schedule(
    resident_id: int, body: ScheduleIn, conn: Conn, caller: Writer, request: Request
) -> ScheduleOut:
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    now = datetime.now(UTC)
    fields = body.model_dump() | {"starts_at": body.starts_at or now}
    schedule_id = await repo.create(conn, resident_id=resident_id, fields=fields, by=caller.actor)
    await audit.record(
        conn,
        request,
        caller,
        "visit_schedule.create",
        f"resident/{resident_id}/visit-schedules/{schedule_id}",
        resident_id=resident_id,
        site_id=site_id,
    )
    found = await repo.get(conn, schedule_id=schedule_id)
    assert found is not None
    return _out(found, now)


@router.get(SCHEDULES, responses=errors(404))
async def list_schedules(
    resident_id: int, conn: Conn, caller: Reader
) -> dict[str, list[ScheduleOut]]:
    await resident_in_scope(conn, caller, resident_id)
    now = datetime.now(UTC)
    return {"items": [_out(r, now) for r in await repo.of_resident(conn, resident_id=resident_id)]}


@router.put(SCHEDULES + "/{schedule_id}/active", responses=errors(400, 404))
async def set_schedule_active(
    resident_id: int, schedule_id: int, body: ActiveIn, conn: Conn, caller: Writer
) -> ScheduleOut:
    """Stop (or resume) a schedule; its visits stay."""
    await _schedule(conn, caller, resident_id, schedule_id)
    await repo.set_active(conn, schedule_id=schedule_id, active=body.active)
    found = await repo.get(conn, schedule_id=schedule_id)
    assert found is not None
    return _out(found, datetime.now(UTC))


@router.post(
    SCHEDULES + "/{schedule_id}/visits",
    status_code=status.HTTP_201_CREATED,
    responses=errors(400, 404),
)
async def record_visit(
    resident_id: int,
    schedule_id: int,
    body: VisitIn,
    conn: Conn,
    caller: Writer,
    request: Request,
) -> ScheduleOut:
    """A visit or round done; its observations, if any, are charted as from a round."""
    await _schedule(conn, caller, resident_id, schedule_id)
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    now = datetime.now(UTC)
    done_at = body.done_at or now
    if done_at > now + timedelta(minutes=5) or done_at < now - MAX_OBSERVATION_AGE:
        raise invalid(["body", "done_at"], "a visit is charted within a week, never ahead")
    if body.observations is not None and not caller.can("observations:write"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you may not chart observations")
    async with conn.transaction():
        await repo.record_visit(
            conn,
            schedule_id=schedule_id,
            resident_id=resident_id,
            done_at=done_at,
            by=caller.actor,
            note=body.note,
        )
        if body.observations is not None:
            await residents_repo.record_observations(
                conn,
                resident_id=resident_id,
                values=body.observations.values(),
                ts=body.observations.ts or done_at,
                now=now,
                recorded_by=caller.actor,
            )
        await audit.record(
            conn,
            request,
            caller,
            "visit.create",
            f"resident/{resident_id}/visit-schedules/{schedule_id}/visits",
            resident_id=resident_id,
            site_id=site_id,
            status=201,
        )
    found = await repo.get(conn, schedule_id=schedule_id)
    assert found is not None
    return _out(found, now)


@router.get("/api/v1/visits/overdue")
async def overdue(
    conn: Conn,
    caller: Reader,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
) -> dict[str, list[ScheduleOut]]:
    """Active schedules of admitted residents in the caller's scope (a family doctor: their
    caseload) that are overdue, the latest first."""
    now = datetime.now(UTC)
    if caller.role == "family_doctor" and caller.hospital_id is None:
        scope: tuple[str, list[object]] = (repo.CASELOAD, [caller.username, now, now])
    else:
        scope = caller.scope_sql("r.site_id", "r.unit_id")
    rows = [_out(r, now) for r in await repo.active_in(conn, scope=scope, site=site)]
    late = sorted((r for r in rows if r.overdue), key=lambda r: r.due_at)
    return {"items": late}
