"""Referrals: list, open by hand, read, move through the green-channel workflow, export as FHIR.

Who acts is the caller: their role, and their side — the hospital's for users of a partner
hospital (`hospital_id`), the care setting's otherwise. Care-side users see the referrals of
residents in their scope; hospital users see the referrals sent to their hospital.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from services.api.deps import (
    AUTHENTICATED,
    BIGINT_MAX,
    PLACE_ID,
    Conn,
    Offset,
    PgText,
    accepted_language,
    errors,
    require,
    resident_in_scope,
)
from services.api.routes.referral_consent import check_shared_with_hospital
from services.auth import audit
from services.auth.principal import Principal
from services.careteam.store import current_team
from services.careteam.team import CareTeam
from services.catalogue import Language
from services.records import columns as record_columns
from services.records import store as record_store
from services.referrals import queries, reasons, store
from services.referrals.errors import (
    AlreadyOpen,
    IllegalTransition,
    InvalidField,
    InvalidReferral,
    NotPermitted,
    ReferralError,
    UnknownReferral,
)
from services.referrals.model import NOTE_REQUIRED, TRANSITIONS, Actor, Role, Side, State, Trigger
from services.referrals.routing import Kind, PartnerKind, partners_for
from services.referrals.workflow import actions_for

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("referrals:read"))]
Writer = Annotated[Principal, Depends(require("referrals:write"))]

OutwardKind = Literal["emergency", "appointment", "rehabilitation", "hospice"]
Text = Annotated[PgText, StringConstraints(strip_whitespace=True, max_length=2000)]
FHIR_JSON = "application/fhir+json"


def actor_of(caller: Principal) -> Actor:
    side: Side = "hospital" if caller.hospital_id is not None else "care"
    # require() refused the rest: family roles and regulators hold no referral permission.
    return Actor(caller.actor, cast(Role, caller.role), side)


class ReferralCreate(BaseModel):
    resident_id: int = Field(gt=0, le=BIGINT_MAX)
    reason: Annotated[Text, StringConstraints(min_length=1)]
    kind: OutwardKind = Field(
        default="emergency",
        description="emergency (the green channel), appointment, rehabilitation or hospice",
    )
    hospital_id: PgText | None = Field(
        default=None,
        description="a partner of the resident's site of a kind that takes `kind`; default: "
        "the preferred one (general hospital for emergency and appointment, rehabilitation "
        "hospital then nursing home for rehabilitation, hospice for hospice)",
    )
    note: Text = ""


class TransitionIn(BaseModel):
    to: State
    note: Text = Field(default="", description="required to dismiss, decline or cancel")


class HospitalPublic(BaseModel):
    id: str
    name: str
    kind: PartnerKind = Field(description="the partner's kind when the referral was made")


class PartnerHospital(HospitalPublic):
    sites: list[str] = Field(description="the caller's sites this hospital takes referrals from")


class ActorPublic(BaseModel):
    id: str
    role: str
    side: str | None = None


class ReferralSummary(BaseModel):
    id: int
    state: State
    allowed_next: list[State] = Field(description="every step the workflow allows from here")
    actions: list[State] = Field(
        description="the steps of `allowed_next` the caller's side and role may take"
    )
    timezone: str = Field(description="the site's time zone (IANA), for showing times")
    resident_id: int
    site_id: str
    unit_id: str
    hospital: HospitalPublic
    kind: Kind = Field(description="the referral's type; `return`: opened by the hospital")
    trigger: Trigger
    reason: str = Field(
        description="why, in words: a nurse's own, or a rule's put in the reader's language"
        " (`Accept-Language` zh or en, else the care team's language for the caller)"
    )
    reason_code: str | None = Field(
        description="a rule's reason as a code (`alert`: `rule` and the alert's figures in"
        " `reason_params`); null: `reason` is the words (a nurse's, or a row from before codes)"
    )
    reason_params: dict[str, str | float]
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
    discharge: dict[str, Any] | None = Field(
        default=None, description="a return's discharge summary (null for other kinds)"
    )


class ReferralPage(BaseModel):
    items: list[ReferralSummary]
    total: int
    limit: int
    offset: int


class NotPermittedOut(BaseModel):
    message: str
    required_side: Side
    allowed_roles: list[Role]


class ForbiddenOut(BaseModel):
    detail: str | NotPermittedOut = Field(
        description="the workflow's refusal says which side and roles may take the step"
    )


class ConflictDetail(BaseModel):
    message: str
    state: State | None = Field(default=None, description="an illegal step: the current state")
    allowed_next: list[State] | None = None
    referral_id: int | None = Field(default=None, description="the referral already open")


class ConflictOut(BaseModel):
    detail: ConflictDetail


# What the workflow's steps may answer besides the referral (see `http_error`).
WORKFLOW_ANSWERS: dict[int | str, dict[str, Any]] = {
    **errors(400),
    403: {"model": ForbiddenOut, "description": "the caller's role, side or scope"},
    409: {"model": ConflictOut, "description": "no such step from here, or one already open"},
}


@router.get("")
async def list_referrals(
    conn: Conn,
    caller: Reader,
    request: Request,
    state: State | None = None,
    resident: Annotated[int | None, Query(gt=0, le=BIGINT_MAX)] = None,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
) -> ReferralPage:
    if caller.hospital_id is not None:
        place: dict[str, Any] = {"hospital_id": caller.hospital_id}
    else:
        place = {"scope": caller.scope_sql("site_id", "unit_id")}
    rows, total = await queries.list_referrals(
        conn,
        state=state,
        resident_id=resident,
        site_id=site,
        limit=limit,
        offset=offset,
        **place,
    )
    await audit.record(conn, request, caller, "referrals.list", "referrals", resident_id=resident)
    _, team = await current_team(conn)
    language = reader_language(request, caller, team)
    items = [_summary(r, caller, team, language) for r in rows]
    return ReferralPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/hospitals")
async def partner_hospitals(
    conn: Conn, caller: Reader, kind: OutwardKind | None = None
) -> list[PartnerHospital]:
    """The partners a referral of the caller's residents may go to; with `kind`, those that
    take a referral of that kind, the preferred first (a site's first is its default). None
    for hospital accounts and integrators."""
    _, team = await current_team(conn)
    found = []
    partners = team.hospitals if kind is None else partners_for(kind, team.hospitals)
    for entry in partners:
        sites = [s for s in entry.sites if caller.every_site or s == caller.site_id]
        if sites and not caller.sees_no_resident:
            found.append(
                PartnerHospital(id=entry.id, name=entry.name, kind=entry.kind, sites=sites)
            )
    return found


@router.post("", status_code=status.HTTP_201_CREATED, responses=WORKFLOW_ANSWERS)
async def create_referral(
    body: ReferralCreate, conn: Conn, caller: Writer, request: Request
) -> ReferralPublic:
    """Care-setting staff open a referral by hand; it starts as `requested` and the hospital
    is told at once."""
    try:
        await resident_in_scope(conn, caller, body.resident_id)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_404_NOT_FOUND:
            raise
        # A reference in the body: the request is wrong, not the URL.
        raise http_error(
            InvalidField("resident_id", f"no resident {body.resident_id}"), note_field=False
        ) from None
    try:
        referral_id = await store.open_referral(
            conn,
            resident_id=body.resident_id,
            actor=actor_of(caller),
            reason=body.reason,
            kind=body.kind,
            hospital_id=body.hospital_id,
            note=body.note,
            now=datetime.now(UTC),
        )
    except ReferralError as exc:
        raise http_error(exc, note_field=False) from exc
    referral = await visible_referral(conn, caller, referral_id)
    await audit_referral(conn, request, caller, "referral.create", referral)
    return await referral_detail(conn, referral, caller, request)


@router.get("/{referral_id}", responses=errors(404))
async def get_referral(
    referral_id: int, conn: Conn, caller: Reader, request: Request
) -> ReferralPublic:
    referral = await visible_referral(conn, caller, referral_id)
    await audit_referral(conn, request, caller, "referral.read", referral)
    return await referral_detail(conn, referral, caller, request)


@router.post("/{referral_id}/transition", responses={**WORKFLOW_ANSWERS, **errors(404)})
async def transition_referral(
    referral_id: int, body: TransitionIn, conn: Conn, caller: Writer, request: Request
) -> ReferralPublic:
    """Move the referral to `to` (see `allowed_next`). 409: no such step from the current
    state; 403: the caller's side or role may not take it; 422: a required note is missing."""
    await visible_referral(conn, caller, referral_id)
    try:
        stored = await store.apply_transition(
            conn,
            referral_id=referral_id,
            to_state=body.to,
            actor=actor_of(caller),
            note=body.note,
            now=datetime.now(UTC),
        )
    except ReferralError as exc:
        raise http_error(exc, note_field=body.to in NOTE_REQUIRED and not body.note) from exc
    await audit_referral(conn, request, caller, f"referral.{body.to}", stored)
    return await referral_detail(conn, stored, caller, request)


@router.get(
    "/{referral_id}/fhir",
    response_class=JSONResponse,
    responses={200: {"content": {FHIR_JSON: {}}}, **errors(404)},
)
async def get_referral_fhir(
    referral_id: int, conn: Conn, caller: Reader, request: Request
) -> JSONResponse:
    """The referral as a FHIR R4 collection Bundle: Patient (with the resident record as it is
    now), Organization (the hospital), ServiceRequest, Task, the NEWS2 and vital-sign
    Observations (LOINC-coded), Conditions (ICD-10) and AllergyIntolerances. The national ID
    and insurance number go to the hospital side and to the care roles that see them whole
    (docs/security.md); a caregiver's export leaves them out. A rule's reason (`reasonCode`) is
    in the site's language (the care team's, else zh-CN), whoever exports."""
    stored = await visible_referral(conn, caller, referral_id)
    await check_shared_with_hospital(conn, caller, stored)
    identifiers = (
        caller.hospital_id is not None
        or caller.role == "integrator"
        or record_columns.sees_identifiers(caller)
    )
    record = await record_store.patient_record(
        conn,
        resident_id=stored.row.resident_id,
        cipher=request.app.state.records,
        identifiers=identifiers,
    )
    await audit_referral(conn, request, caller, "referral.fhir", stored)
    _, team = await current_team(conn)
    language = team.policy(stored.referral.resident.site_id).language
    return JSONResponse(queries.fhir_bundle(stored, record, language), media_type=FHIR_JSON)


# --- conversions ---------------------------------------------------------------------------


async def visible_referral(
    conn: Conn, caller: Principal, referral_id: int
) -> queries.StoredReferral:
    """The referral, if it exists (404) and the caller may see it (403): hospital users
    those sent to their hospital, care-side users those of residents in their scope."""
    stored = await queries.get_referral(conn, referral_id)
    if stored is None:
        raise http_error(UnknownReferral(referral_id), note_field=False)
    row = stored.row
    if caller.hospital_id is not None:
        visible = row.hospital_id == caller.hospital_id
    else:
        visible = caller.covers(row.site_id, row.unit_id)
    if not visible:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"referral {referral_id} is outside your scope"
        )
    return stored


async def audit_referral(
    conn: Conn, request: Request, caller: Principal, action: str, stored: queries.StoredReferral
) -> None:
    await audit.record(
        conn,
        request,
        caller,
        action,
        f"referral/{stored.row.referral_id}",
        resident_id=stored.row.resident_id,
        site_id=stored.row.site_id,
    )


def reader_language(request: Request, caller: Principal, team: CareTeam) -> Language:
    """The language a reason is put in: the first of `Accept-Language` this product speaks,
    else the caller's in the care team (their own, their site's, zh-CN)."""
    accepted = accepted_language(request)
    if accepted is not None:
        return accepted
    if caller.staff_id is not None:
        return team.language_of(caller.staff_id, caller.site_id)
    return team.policy(caller.site_id).language


def _summary(
    row: queries.ReferralRow, caller: Principal, team: CareTeam, language: Language
) -> ReferralSummary:
    # Only the care side requests (model.PERMISSIONS), so the side is not stored.
    requester = (
        None
        if row.requester_id is None
        else ActorPublic(id=row.requester_id, role=row.requester_role or "", side="care")
    )
    return ReferralSummary(
        id=row.referral_id,
        state=row.state,
        allowed_next=list(TRANSITIONS[row.state]),
        actions=list(actions_for(row.state, actor_of(caller))),
        timezone=team.alerts.timezone_of(row.site_id),
        resident_id=row.resident_id,
        site_id=row.site_id,
        unit_id=row.unit_id,
        hospital=HospitalPublic(id=row.hospital_id, name=row.hospital_name, kind=row.partner_kind),
        kind=row.kind,
        trigger=row.trigger,
        reason=reasons.render(language, row.reason_code, row.reason),
        reason_code=None if row.reason_code is None else row.reason_code.code,
        reason_params={} if row.reason_code is None else dict(row.reason_code.params),
        alert_id=row.alert_id,
        requester=requester,
        sla_due_at=row.sla_due_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def referral_detail(
    conn: Conn, stored: queries.StoredReferral, caller: Principal, request: Request
) -> ReferralPublic:
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
    _, team = await current_team(conn)
    return ReferralPublic(
        **_summary(stored.row, caller, team, reader_language(request, caller, team)).model_dump(),
        snapshot=Snapshot(
            patient=dict(stored.patient),
            vitals=[dict(v) for v in stored.vitals],
            news2=None if stored.news2 is None else dict(stored.news2),
            alerts=[dict(a) for a in stored.alerts],
        ),
        history=history,
        discharge=None if stored.row.discharge is None else dict(stored.row.discharge),
    )


def http_error(exc: ReferralError, *, note_field: bool) -> HTTPException:
    """The workflow's and the store's errors as HTTP answers whose body says what to change."""
    if isinstance(exc, UnknownReferral):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, IllegalTransition):
        return HTTPException(
            status.HTTP_409_CONFLICT,
            {"message": str(exc), "state": exc.from_state, "allowed_next": list(exc.allowed)},
        )
    if isinstance(exc, AlreadyOpen):
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
        field = exc.field if isinstance(exc, InvalidField) else "note" if note_field else None
        loc = ["body", field] if field else ["body"]
        return HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": loc, "msg": str(exc), "type": "invalid_referral"}],
        )
    return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))
