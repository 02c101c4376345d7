"""A referral's resident as its receiving physician reads them (issue 17): the trends and the
alerts of that one resident, only while the referral is open (requested to admitted), every
read audited. Afterwards, and for anyone else at the hospital, 403. Care-side staff read the
same through these routes for residents in their scope.

Hospital accounts are otherwise kept from residents' data (services/auth/principal.py): this
is the only door, and it is the referral's.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, Request, status

from services.api.deps import AUTHENTICATED, Conn, Instant, Offset, errors, resident_in_scope
from services.api.repos import alerts as alert_repo
from services.api.routes.alerts import AlertOut, AlertPage
from services.api.routes.referral_consent import check_shared_with_hospital
from services.api.routes.referrals import Reader, audit_referral, visible_referral
from services.api.routes.vitals import VitalsOut, read_trend
from services.auth.principal import Principal
from services.referrals.queries import StoredReferral
from services.trends.plan import Bucket, Metric

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"], responses=AUTHENTICATED)

# The hospital has been asked and not yet finished with the resident.
OPEN: Final = frozenset({"requested", "accepted", "in_transit", "admitted"})


async def _opened_to(conn: Conn, caller: Principal, referral_id: int) -> StoredReferral:
    stored = await visible_referral(conn, caller, referral_id)
    if caller.hospital_id is None:
        # Care side: the resident where they live now, not where they were referred from.
        await resident_in_scope(conn, caller, stored.row.resident_id)
        return stored
    if caller.role != "physician":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "only the receiving hospital's physicians read the resident's trends and alerts",
        )
    await check_shared_with_hospital(conn, caller, stored)
    if stored.row.state not in OPEN:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"referral {referral_id} is {stored.row.state}: the resident's data is read only "
            "while it is open",
        )
    return stored


@router.get("/{referral_id}/vitals", responses=errors(404))
async def referral_vitals(
    referral_id: int,
    conn: Conn,
    caller: Reader,
    request: Request,
    metric: Annotated[list[Metric], Query(min_length=1, description="repeat for several")],
    start: Annotated[Instant | None, Query(description="default: 24 h before end")] = None,
    end: Annotated[Instant | None, Query(description="default: now")] = None,
    bucket: Bucket | None = None,
) -> VitalsOut:
    """The referred resident's trends, as `GET /api/v1/residents/{id}/vitals` answers them."""
    stored = await _opened_to(conn, caller, referral_id)
    out = await read_trend(conn, stored.row.resident_id, metric, start, end, bucket)
    await audit_referral(conn, request, caller, "referral.vitals", stored)
    return out


@router.get("/{referral_id}/alerts", responses=errors(404))
async def referral_alerts(
    referral_id: int,
    conn: Conn,
    caller: Reader,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AlertPage:
    """The referred resident's alerts, unresolved first, as `GET /api/v1/alerts` orders them."""
    stored = await _opened_to(conn, caller, referral_id)
    rows = await alert_repo.list_alerts(
        conn,
        scope=("resident_id = %s", [stored.row.resident_id]),
        site=None,
        unit=None,
        resident=None,
        audience=None,
        statuses=None,
        severities=None,
        active=None,
        limit=limit,
        offset=offset,
    )
    await audit_referral(conn, request, caller, "referral.alerts", stored)
    return AlertPage(items=[AlertOut(**r) for r in rows], limit=limit, offset=offset)
