"""Referrals: list, open by hand, read, move through the green-channel workflow, export as FHIR.

TEMPORARY: user accounts do not exist yet, so the admin bearer token guards these routes and the
staff member taking a step is declared in the request body (`actor`). Once OAuth2 users and
roles land, the actor comes from the token and the body's `actor` goes away.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from services.api.deps import Conn, require_admin
from services.referrals import store
from services.referrals.errors import (
    IllegalTransition,
    InvalidReferral,
    NotPermitted,
    ReferralError,
)
from services.referrals.workflow import (
    NOTE_REQUIRED,
    TRANSITIONS,
    Actor,
    Role,
    Side,
    State,
    Trigger,
)

router = APIRouter(
    prefix="/api/v1/referrals", tags=["referrals"], dependencies=[Depends(require_admin)]
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
StaffId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")]


class ActorIn(BaseModel):
    """Who takes the step. TEMPORARY: declared by the caller until user accounts exist."""

    id: StaffId
    role: Role
    side: Side

    def actor(self) -> Actor:
        return Actor(self.id, self.role, self.side)


class ReferralCreate(BaseModel):
    resident_id: int = Field(gt=0)
    reason: Annotated[Text, StringConstraints(min_length=1)]
    hospital_id: str | None = Field(
        default=None, description="a partner hospital of the resident's site; default: the first"
    )
    note: Text = ""
    # TEMPORARY: taken from the caller's token once user accounts exist.
    actor: ActorIn


class TransitionIn(BaseModel):
    to: State
    note: Text = Field(default="", description="required to dismiss, decline or cancel")
    # TEMPORARY: taken from the caller's token once user accounts exist.
    actor: ActorIn


class HospitalPublic(BaseModel):
    id: str
    name: str


class ActorPublic(BaseModel):
    id: str
    role: str
    side: str | None = None


class ReferralSummary(BaseModel):
    id: int
    state: State
    allowed_next: list[State]
    resident_id: int
    site_id: str
    unit_id: str
    hospital: HospitalPublic
    trigger: Trigger
    reason: str
    alert_id: int | None = Field(description="the alert a rule's suggestion came from")
    requester: ActorPublic | None
    sla_due_at: datetime | None = Field(description="when the running timer fires, if any")
    created_at: datetime
    updated_at: datetime


class AuditPublic(BaseModel):
    at: datetime
    action: str
    from_state: State | None
    to_state: State
    actor: ActorPublic | None = Field(description="null: a rule or a timer acted")
    note: str


class Snapshot(BaseModel):
    """What the referral carries, as taken when it was opened."""

    patient: dict[str, Any]
    vitals: list[dict[str, Any]] = Field(description="last 24 h, last value per metric per 5 min")
    news2: dict[str, Any] | None = Field(description="total, band, sub-scores and readings")
    alerts: list[dict[str, Any]]


class ReferralPublic(ReferralSummary):
    snapshot: Snapshot
    history: list[AuditPublic]


class ReferralPage(BaseModel):
    items: list[ReferralSummary]
    total: int
    limit: int
    offset: int


@router.get("")
async def list_referrals(
    conn: Conn,
    state: State | None = None,
    resident: Annotated[int | None, Query(gt=0)] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ReferralPage:
    rows, total = await store.list_referrals(
        conn, state=state, resident_id=resident, site_id=site, limit=limit, offset=offset
    )
    return ReferralPage(items=[_summary(r) for r in rows], total=total, limit=limit, offset=offset)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_referral(body: ReferralCreate, conn: Conn) -> ReferralPublic:
    """Care-setting staff open a referral by hand; it starts as `requested` and the hospital
    is told at once. TEMPORARY: `actor` is declared in the body until user accounts exist."""
    try:
        referral_id = await store.open_referral(
            conn,
            resident_id=body.resident_id,
            actor=body.actor.actor(),
            reason=body.reason,
            hospital_id=body.hospital_id,
            note=body.note,
            now=datetime.now(UTC),
        )
    except ReferralError as exc:
        raise _http(exc, note_field=False) from exc
    return await _public(conn, referral_id)


@router.get("/{referral_id}")
async def get_referral(referral_id: int, conn: Conn) -> ReferralPublic:
    return await _public(conn, referral_id)


@router.post("/{referral_id}/transition")
async def transition_referral(referral_id: int, body: TransitionIn, conn: Conn) -> ReferralPublic:
    """Move the referral to `to` (see `allowed_next`). 409: no such step from the current
    state; 403: the actor's side or role may not take it; 422: a required note is missing.

    TEMPORARY: `actor` is declared in the body because user accounts do not exist yet; it will
    come from the bearer token, and the field will go."""
    try:
        stored = await store.apply_transition(
            conn,
            referral_id=referral_id,
            to_state=body.to,
            actor=body.actor.actor(),
            note=body.note,
            now=datetime.now(UTC),
        )
    except ReferralError as exc:
        raise _http(exc, note_field=body.to in NOTE_REQUIRED and not body.note) from exc
    return _detail(stored)


@router.get("/{referral_id}/fhir", response_class=JSONResponse)
async def get_referral_fhir(referral_id: int, conn: Conn) -> JSONResponse:
    """The referral as a FHIR R4 collection Bundle: Patient, Organization (the hospital),
    ServiceRequest, Task, the NEWS2 and vital-sign Observations (LOINC-coded)."""
    stored = await store.get_referral(conn, referral_id)
    if stored is None:
        raise _http(store.UnknownReferral(referral_id), note_field=False)
    return JSONResponse(store.fhir_bundle(stored), media_type="application/fhir+json")


# --- conversions ---------------------------------------------------------------------------


async def _public(conn: Conn, referral_id: int) -> ReferralPublic:
    stored = await store.get_referral(conn, referral_id)
    if stored is None:
        raise _http(store.UnknownReferral(referral_id), note_field=False)
    return _detail(stored)


def _summary(row: store.ReferralRow) -> ReferralSummary:
    # Only the care side requests (workflow.PERMISSIONS), so the side is not stored.
    requester = (
        None
        if row.requester_id is None
        else ActorPublic(id=row.requester_id, role=row.requester_role or "", side="care")
    )
    return ReferralSummary(
        id=row.referral_id,
        state=row.state,
        allowed_next=list(TRANSITIONS[row.state]),
        resident_id=row.resident_id,
        site_id=row.site_id,
        unit_id=row.unit_id,
        hospital=HospitalPublic(id=row.hospital_id, name=row.hospital_name),
        trigger=row.trigger,
        reason=row.reason,
        alert_id=row.alert_id,
        requester=requester,
        sla_due_at=row.sla_due_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _detail(stored: store.StoredReferral) -> ReferralPublic:
    history = [
        AuditPublic(
            at=a.at,
            action=a.action,
            from_state=a.from_state,
            to_state=a.to_state,
            actor=None
            if a.staff_id is None
            else ActorPublic(id=a.staff_id, role=a.role or "", side=a.side),
            note=a.note,
        )
        for a in stored.audit
    ]
    return ReferralPublic(
        **_summary(stored.row).model_dump(),
        snapshot=Snapshot(
            patient=dict(stored.patient),
            vitals=[dict(v) for v in stored.vitals],
            news2=None if stored.news2 is None else dict(stored.news2),
            alerts=[dict(a) for a in stored.alerts],
        ),
        history=history,
    )


def _http(exc: ReferralError, *, note_field: bool) -> HTTPException:
    """The workflow's and the store's errors as HTTP answers whose body says what to change."""
    if isinstance(exc, store.UnknownReferral):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, IllegalTransition):
        return HTTPException(
            status.HTTP_409_CONFLICT,
            {"message": str(exc), "state": exc.from_state, "allowed_next": list(exc.allowed)},
        )
    if isinstance(exc, store.AlreadyOpen):
        return HTTPException(
            status.HTTP_409_CONFLICT, {"message": str(exc), "referral_id": exc.referral_id}
        )
    if isinstance(exc, NotPermitted):
        return HTTPException(
            status.HTTP_403_FORBIDDEN,
            {
                "message": str(exc),
                "required_side": exc.required_side,
                "allowed_roles": list(exc.allowed_roles),
            },
        )
    if isinstance(exc, InvalidReferral):
        # The same shape as FastAPI's own validation errors, naming the field where known.
        field = exc.field if isinstance(exc, store.InvalidField) else "note" if note_field else None
        loc = ["body", field] if field else ["body"]
        return HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": loc, "msg": str(exc), "type": "invalid_referral"}],
        )
    return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))
