"""SQL of isolation and cohort flags on residents and units: set and cleared by people."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import TupleRow, dict_row

Conn = AsyncConnection[TupleRow]
# Place fragments come from auth.principal.Principal.place_sql: fixed parts, never input.
Scope = tuple[str, Sequence[object]]

COLUMNS: Final = (
    "SELECT f.flag_id, f.site_id, f.unit_id, f.resident_id, r.display_name AS resident_name,"
    " f.kind, f.reason, f.set_by, f.set_at, f.cleared_by, f.cleared_at FROM isolation_flags f"
    " LEFT JOIN residents r USING (resident_id)"
)


async def active(conn: Conn, *, place: Scope) -> list[dict[str, Any]]:
    """Flags in force in the place, units' first, then by resident."""
    where, params = place
    query = COLUMNS + f" WHERE f.cleared_at IS NULL AND {where}"  # place: fixed parts
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query + " ORDER BY f.resident_id NULLS FIRST, f.flag_id", list(params))
        return await cur.fetchall()


async def get(conn: Conn, *, flag_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(COLUMNS + " WHERE f.flag_id = %s", [flag_id])
        return await cur.fetchone()


async def set_flag(
    conn: Conn,
    *,
    site_id: str,
    unit_id: str,
    resident_id: int | None,
    kind: str,
    reason: str,
    by: str,
    now: datetime,
) -> int | None:
    """A new flag's id; None if one of that kind is in force there already."""
    try:
        async with conn.transaction():
            cur = await conn.execute(
                "INSERT INTO isolation_flags (site_id, unit_id, resident_id, kind, reason,"
                " set_by, set_at) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING flag_id",
                [site_id, unit_id, resident_id, kind, reason, by, now],
            )
            row = await cur.fetchone()
    except UniqueViolation:
        return None
    assert row is not None
    return int(row[0])


async def clear(conn: Conn, *, flag_id: int, by: str, now: datetime) -> bool:
    """False if the flag was cleared already."""
    cur = await conn.execute(
        "UPDATE isolation_flags SET cleared_by = %s, cleared_at = %s"
        " WHERE flag_id = %s AND cleared_at IS NULL",
        [by, now, flag_id],
    )
    return cur.rowcount == 1
