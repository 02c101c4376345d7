"""One record per person and site: residents found by their national ID's digest
(migration 0026), and the digests of rows stored before there were any."""

from __future__ import annotations

import logging

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.records.crypto import RecordCipher, RecordKeyError

log = logging.getLogger("carewatch.api")

Conn = AsyncConnection[TupleRow]


async def resident_with_national_id(
    conn: Conn, *, site_id: str, national_id: str, cipher: RecordCipher, other_than: int | None
) -> int | None:
    """Another resident of the site recorded with this national ID (under any configured key:
    digests made before a rotation count too), or None."""
    cur = await conn.execute(
        "SELECT resident_id FROM residents WHERE site_id = %s AND national_id_digest = ANY(%s)"
        " AND resident_id IS DISTINCT FROM %s ORDER BY resident_id LIMIT 1",
        [site_id, cipher.digests(national_id), other_than],
    )
    row = await cur.fetchone()
    return None if row is None else int(row[0])


async def fill_missing_digests(conn: Conn, cipher: RecordCipher) -> int:
    """Give each resident stored with a national ID but no digest (admitted before migration
    0026) its digest; how many were given one. A row whose ID does not decrypt, or whose
    digest would repeat another's at its site, is left without and said so in the log."""
    cur = await conn.execute(
        "SELECT resident_id, national_id_enc FROM residents"
        " WHERE national_id_enc IS NOT NULL AND national_id_digest IS NULL"
    )
    filled = 0
    for resident_id, token in await cur.fetchall():
        try:
            digest = cipher.digest(cipher.decrypt(token))
        except RecordKeyError:
            log.warning("resident %s: national ID does not decrypt, no digest", resident_id)
            continue
        async with conn.transaction():
            done = await conn.execute(
                "UPDATE residents SET national_id_digest = %s WHERE resident_id = %s"
                " AND national_id_digest IS NULL AND NOT EXISTS (SELECT 1 FROM residents o"
                " WHERE o.site_id = residents.site_id AND o.national_id_digest = %s)",
                [digest, resident_id, digest],
            )
        if done.rowcount:
            filled += 1
        else:
            log.warning(
                "resident %s: no national ID digest given: another resident of the site has"
                " the same ID (correct one of the records), or another API process gave it",
                resident_id,
            )
    return filled
