"""What a partner hospital may receive of a resident: in an emergency transfer, what the
transfer needs (the law allows it without consent to protect a person's life and health:
PIPL art. 13(4)); for planned referrals (appointment, rehabilitation, hospice), only with the
resident's consent to sharing with partner hospitals (docs/security.md)."""

from __future__ import annotations

from fastapi import HTTPException, status

from services.api.deps import Conn
from services.api.repos.resident_care import consented
from services.auth.principal import Principal
from services.referrals.queries import StoredReferral
from services.referrals.routing import URGENT


async def check_shared_with_hospital(conn: Conn, caller: Principal, stored: StoredReferral) -> None:
    """403 for a hospital caller reading a planned referral's resident without consent."""
    if caller.hospital_id is None or stored.referral.kind in URGENT:
        return
    if not await consented(conn, resident_id=stored.row.resident_id, kind="partner_hospitals"):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the resident has not consented to sharing with partner hospitals: a planned"
            " referral's record and data are shared only with that consent",
        )
