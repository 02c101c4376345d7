"""The resident record read for what leaves the care setting: the FHIR export of a referral."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.records.columns import COLUMNS
from services.records.crypto import NO_KEY, RecordCipher, RecordUnavailable
from services.referrals.model import EmergencyContact, PatientRecord

Conn = AsyncConnection[TupleRow]


async def patient_record(
    conn: Conn, *, resident_id: int, cipher: RecordCipher | None, identifiers: bool
) -> PatientRecord | None:
    """The resident's record as it is now (None: no such resident); the national ID and
    insurance number only with `identifiers` (RecordUnavailable: stored, and no key or one
    that does not decrypt them)."""
    cur = await conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM residents WHERE resident_id = %s",  # noqa: S608
        [resident_id],
    )
    found = await cur.fetchone()
    if found is None:
        return None
    row = dict(zip(COLUMNS, found, strict=True))

    def plain(column: str) -> str | None:
        token = row[column]
        if token is None or not identifiers:
            return None
        if cipher is None:
            raise RecordUnavailable(NO_KEY)
        return cipher.decrypt(token)

    return PatientRecord(
        sex=row["sex"],
        birth_date=row["birth_date"],
        national_id=plain("national_id_enc"),
        insurance_no=plain("insurance_no_enc"),
        phone=row["phone"],
        address=row["address"],
        contacts=tuple(
            EmergencyContact(c["name"], c["relation"], c["phone"])
            for c in row["emergency_contacts"]
        ),
        diagnoses=tuple((d["code"], d["display"]) for d in row["diagnoses"]),
        allergies=tuple(row["allergies"]),
    )
