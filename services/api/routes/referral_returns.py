"""Downward referral: the hospital side sends a resident back with a discharge summary, as
JSON or as a FHIR Bundle, which starts a post-discharge watch period on the care side; and
the watch periods running, for the board.

Only a partner hospital's account (its staff or its own system, HIS) opens a return, and only
for a resident of a site it partners.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from services.api.deps import (
    AUTHENTICATED,
    BIGINT_MAX,
    PLACE_ID,
    Conn,
    PgText,
    require,
)
from services.api.routes.referrals import (
    FHIR_JSON,
    WORKFLOW_ANSWERS,
    ReferralPublic,
    Text,
    actor_of,
    audit_referral,
    http_error,
    referral_detail,
    visible_referral,
)
from services.auth.principal import Principal
from services.referrals import returns, watch_store
from services.referrals.discharge import DischargeSummary
from services.referrals.discharge_fhir import read_bundle
from services.referrals.errors import InvalidBundle, ReferralError

router = APIRouter(tags=["referrals"], responses=AUTHENTICATED)

Writer = Annotated[Principal, Depends(require("referrals:write"))]
Board = Annotated[Principal, Depends(require("residents:read"))]
WatchDays = Annotated[int | None, Field(ge=1, le=30, description="default: 7 (configurable)")]


class ReturnCreate(BaseModel):
    resident_id: int = Field(gt=0, le=BIGINT_MAX)
    discharge: DischargeSummary
    watch_days: WatchDays = None
    note: Text = ""


class WatchOut(BaseModel):
    resident_id: int
    referral_id: int = Field(description="the return that started (or last extended) it")
    started_at: datetime
    ends_at: datetime = Field(description="it ends by itself then")


class ReturnOut(BaseModel):
    referral: ReferralPublic
    watch: WatchOut


class BundleRefusal(BaseModel):
    message: str
    where: str = Field(description="the part of the Bundle at fault, e.g. entry[2].resource.code")


class BundleRefused(BaseModel):
    detail: BundleRefusal | str = Field(description="a body that is no JSON at all: a text")


RETURN_ANSWERS: dict[int | str, dict[str, Any]] = {
    **WORKFLOW_ANSWERS,
    400: {"model": BundleRefused, "description": "not a FHIR Bundle a discharge summary is in"},
}


@router.post("/api/v1/referrals/returns", status_code=201, responses=WORKFLOW_ANSWERS)
async def create_return(
    body: ReturnCreate, conn: Conn, caller: Writer, request: Request
) -> ReturnOut:
    """The hospital sends the resident back with a discharge summary (diagnoses in ICD-10,
    medication changes, follow-up plan); a post-discharge watch period starts (or is
    extended) on the care side. 403: not a partner hospital's account; 422: the body, or a
    resident of no site the hospital partners."""
    return await _open(
        conn, caller, request, body.resident_id, body.discharge, body.watch_days, body.note
    )


@router.post("/api/v1/referrals/returns/fhir", status_code=201, responses=RETURN_ANSWERS)
async def create_return_fhir(
    bundle: Annotated[dict[str, Any], Body(media_type=FHIR_JSON)],
    conn: Conn,
    caller: Writer,
    request: Request,
    watch_days: Annotated[int | None, Query(ge=1, le=30)] = None,
) -> ReturnOut:
    """The same, from a FHIR R4 Bundle: the Patient by its `urn:carewatch:resident-id`
    identifier (as the referral export sends it), Conditions coded in ICD-10,
    MedicationStatements, and the follow-up plan as a CarePlan description. 400 names the
    part of the Bundle at fault."""
    _hospital_only(caller)
    try:
        resident_id, summary = read_bundle(bundle)
    except InvalidBundle as exc:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, {"message": str(exc), "where": exc.where}
        ) from exc
    return await _open(conn, caller, request, resident_id, summary, watch_days, "")


@router.get("/api/v1/watch-periods", tags=["residents"])
async def watch_periods(
    conn: Conn,
    caller: Board,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
) -> list[WatchOut]:
    """The post-discharge watch periods running now on the caller's residents (the board's
    badge), soonest to end first."""
    scope = caller.place_sql("r.site_id", "r.unit_id", site, unit)
    found = await watch_store.running(conn, scope=scope, now=datetime.now(UTC))
    return [
        WatchOut(
            resident_id=w.resident_id,
            referral_id=w.referral_id,
            started_at=w.started_at,
            ends_at=w.ends_at,
        )
        for w in found
    ]


def _hospital_only(caller: Principal) -> str:
    if caller.hospital_id is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only a partner hospital's account sends a resident back"
        )
    return caller.hospital_id


async def _open(
    conn: Conn,
    caller: Principal,
    request: Request,
    resident_id: int,
    summary: DischargeSummary,
    watch_days: int | None,
    note: PgText,
) -> ReturnOut:
    hospital_id = _hospital_only(caller)
    try:
        referral_id, watch = await returns.open_return(
            conn,
            resident_id=resident_id,
            hospital_id=hospital_id,
            actor=actor_of(caller),
            summary=summary,
            now=datetime.now(UTC),
            watch_days=watch_days,
            note=note,
        )
    except ReferralError as exc:
        raise http_error(exc, note_field=False) from exc
    stored = await visible_referral(conn, caller, referral_id)
    await audit_referral(conn, request, caller, "referral.return", stored)
    return ReturnOut(
        referral=await referral_detail(conn, stored, caller, request),
        watch=WatchOut(
            resident_id=watch.resident_id,
            referral_id=watch.referral_id,
            started_at=watch.started_at,
            ends_at=watch.ends_at,
        ),
    )
