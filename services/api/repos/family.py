"""SQL of who reaches a resident other than by place: a family doctor through a contract in
force, a family member through their login's resident and that resident's family consent."""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.api.repos.resident_care import consented
from services.auth.principal import Principal

Conn = AsyncConnection[TupleRow]

# A contract is in force from its first day to its last, both included, in the resident's
# time zone: joined as `c` and `r`, with `today` the resident's date at the time given.
TODAY = "CROSS JOIN LATERAL (SELECT (%s::timestamptz AT TIME ZONE r.timezone)::date AS d) today"
IN_FORCE = "c.start_on <= today.d AND c.end_on >= today.d"


async def under_contract(conn: Conn, *, doctor: str, resident_id: int, now: datetime) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM family_doctor_contracts c JOIN residents r USING (resident_id)"  # noqa: S608
        f" {TODAY} WHERE c.doctor = %s AND c.resident_id = %s AND {IN_FORCE} LIMIT 1",
        [now, doctor, resident_id],
    )
    return await cur.fetchone() is not None


async def reaches(conn: Conn, principal: Principal, *, resident_id: int, now: datetime) -> bool:
    """Whether a family doctor or family login may see this resident (others: never here)."""
    if principal.role == "family_doctor" and principal.hospital_id is None:
        return await under_contract(
            conn, doctor=principal.username, resident_id=resident_id, now=now
        )
    if principal.role == "family" and principal.resident_id == resident_id:
        return await consented(conn, resident_id=resident_id, kind="family")
    return False
