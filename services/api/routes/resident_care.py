"""A resident's goals of care and status over time.

Goals of care: the comfort-care (palliative) flag, set or cleared by a physician with a
reason, each change kept with who and when and audited. On comfort care no hospital transfer
is suggested at NEWS2 >= 7 (services/referrals/store.py); alerts still page.

Status: admitted; in hospital (monitoring paused, devices kept); discharged or deceased
(monitoring ended, devices released, data kept). The detector monitors only residents admitted
(services/detector/residents.py); the board leaves the others out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from services.api.deps import AUTHENTICATED, Conn, PgText, errors, require, resident_in_scope
from services.api.repos import resident_care as repo
from services.auth import audit
from services.auth.principal import Principal

router = APIRouter(prefix="/api/v1/residents", tags=["residents"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("residents:read"))]
Physician = Annotated[Principal, Depends(require("goals_of_care:write"))]
Writer = Annotated[Principal, Depends(require("residents:write"))]

Status = Literal["admitted", "in_hospital", "discharged", "deceased"]
# Monitoring ends and the devices go back to the pool.
ENDED: frozenset[str] = frozenset({"discharged", "deceased"})


class GoalsOfCareIn(BaseModel):
    comfort_care: bool
    # Why: the audit log keeps who and when, this the clinical reason.
    reason: Annotated[PgText, Field(min_length=1, max_length=500)]


class GoalsOfCareChange(BaseModel):
    comfort_care: bool
    reason: str
    set_by: str
    set_at: datetime


class GoalsOfCareOut(BaseModel):
    comfort_care: bool
    history: list[GoalsOfCareChange]


async def _read(conn: Conn, resident_id: int) -> GoalsOfCareOut:
    current, history = await repo.goals_of_care(conn, resident_id=resident_id)
    return GoalsOfCareOut(comfort_care=current, history=[GoalsOfCareChange(**h) for h in history])


@router.get("/{resident_id}/goals-of-care", responses=errors(404))
async def get_goals_of_care(
    resident_id: int, conn: Conn, caller: Reader, request: Request
) -> GoalsOfCareOut:
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    out = await _read(conn, resident_id)
    await audit.record(
        conn,
        request,
        caller,
        "resident.goals_of_care.read",
        f"resident/{resident_id}/goals-of-care",
        resident_id=resident_id,
        site_id=site_id,
    )
    return out


@router.put("/{resident_id}/goals-of-care", responses=errors(400, 404))
async def set_goals_of_care(
    resident_id: int, body: GoalsOfCareIn, conn: Conn, caller: Physician, request: Request
) -> GoalsOfCareOut:
    """Set or clear comfort care (physicians only), with the reason."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    await repo.set_comfort_care(
        conn,
        resident_id=resident_id,
        comfort_care=body.comfort_care,
        reason=body.reason,
        set_by=caller.username,
        now=datetime.now(UTC),
    )
    await audit.record(
        conn,
        request,
        caller,
        "resident.comfort_care",
        f"resident/{resident_id}/comfort_care/{'on' if body.comfort_care else 'off'}",
        resident_id=resident_id,
        site_id=site_id,
    )
    return await _read(conn, resident_id)


class StatusIn(BaseModel):
    status: Status
    note: Annotated[PgText, Field(max_length=500)] = ""


class StatusChange(BaseModel):
    status: Status
    note: str
    set_by: str
    set_at: datetime


class StatusOut(BaseModel):
    status: Status
    # Devices whose assignment this change ended (discharge, death).
    released_devices: list[str]
    history: list[StatusChange]


@router.post("/{resident_id}/status", responses=errors(400, 404, 409))
async def set_status(
    resident_id: int, body: StatusIn, conn: Conn, caller: Writer, request: Request
) -> StatusOut:
    """Admit again, send to hospital, discharge, or record a death (final)."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    was = await repo.status_of(conn, resident_id=resident_id)
    if was == "deceased" or was == body.status:
        raise HTTPException(status.HTTP_409_CONFLICT, f"resident {resident_id} is already {was}")
    now = datetime.now(UTC)
    await repo.set_status(
        conn,
        resident_id=resident_id,
        status=body.status,
        note=body.note,
        set_by=caller.username,
        now=now,
    )
    released: list[str] = []
    if body.status in ENDED:
        released = await repo.release_devices(conn, resident_id=resident_id, at=now)
    await audit.record(
        conn,
        request,
        caller,
        "resident.status",
        f"resident/{resident_id}/status/{was}->{body.status}",
        resident_id=resident_id,
        site_id=site_id,
    )
    history = await repo.status_history(conn, resident_id=resident_id)
    return StatusOut(
        status=body.status,
        released_devices=released,
        history=[StatusChange(**h) for h in history],
    )


# What a resident (or their representative) may consent to.
ConsentKind = Literal[
    "monitoring", "family", "partner_hospitals", "disease_control", "third_party_messaging"
]
CONSENT_KINDS: tuple[ConsentKind, ...] = get_args(ConsentKind)


class ConsentsIn(BaseModel):
    # Only the kinds given change; each is recorded with who and when.
    consents: dict[ConsentKind, bool] = Field(min_length=1)


class ConsentRecord(BaseModel):
    kind: ConsentKind
    granted: bool
    recorded_by: str
    recorded_at: datetime


class ConsentsOut(BaseModel):
    # Every kind: true, false, or null (never recorded: not given).
    current: dict[ConsentKind, bool | None]
    history: list[ConsentRecord]


async def _consents(conn: Conn, resident_id: int) -> ConsentsOut:
    history = [ConsentRecord(**c) for c in await repo.consents(conn, resident_id=resident_id)]
    current: dict[ConsentKind, bool | None] = dict.fromkeys(CONSENT_KINDS)
    for record in reversed(history):  # oldest first: the newest of a kind wins
        current[record.kind] = record.granted
    return ConsentsOut(current=current, history=history)


@router.get("/{resident_id}/consents", responses=errors(404))
async def get_consents(
    resident_id: int, conn: Conn, caller: Reader, request: Request
) -> ConsentsOut:
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    out = await _consents(conn, resident_id)
    await audit.record(
        conn,
        request,
        caller,
        "resident.consents.read",
        f"resident/{resident_id}/consents",
        resident_id=resident_id,
        site_id=site_id,
    )
    return out


@router.put("/{resident_id}/consents", responses=errors(400, 404))
async def record_consents(
    resident_id: int, body: ConsentsIn, conn: Conn, caller: Writer, request: Request
) -> ConsentsOut:
    """Record consents given or withdrawn (the kinds in the body; the others stay)."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    await repo.record_consents(
        conn,
        resident_id=resident_id,
        given={str(k): v for k, v in body.consents.items()},
        recorded_by=caller.username,
        now=datetime.now(UTC),
    )
    changed = ",".join(f"{k}={'yes' if v else 'no'}" for k, v in sorted(body.consents.items()))
    await audit.record(
        conn,
        request,
        caller,
        "resident.consents",
        f"resident/{resident_id}/consents/{changed}",
        resident_id=resident_id,
        site_id=site_id,
    )
    return await _consents(conn, resident_id)
