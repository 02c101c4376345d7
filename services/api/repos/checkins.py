"""SQL of staff health check-ins: the person behind a roster id, the day's entries, and the
symptom row through which a check-in with signs reaches the detector's outbreak rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow, dict_row

Conn = AsyncConnection[TupleRow]
# Scope fragments come from auth.principal.Principal.scope_sql: fixed parts, never input.
Scope = tuple[str, Sequence[object]]

DAY: Final = (
    "SELECT c.id, p.staff_id, p.name, c.site_id, c.unit_id, c.day, c.temperature, c.symptoms,"
    " c.ts FROM staff_checkins c JOIN staff_people p USING (person_id)"
    " WHERE c.site_id = %s AND c.day = %s"
)


async def person(conn: Conn, *, staff_id: str, name: str) -> int:
    """The line-list number of a roster id, made on first use (the name kept current)."""
    cur = await conn.execute(
        "INSERT INTO staff_people (staff_id, name) VALUES (%s, %s)"
        " ON CONFLICT (staff_id) DO UPDATE SET name = excluded.name RETURNING person_id",
        [staff_id, name],
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def record(
    conn: Conn,
    *,
    person_id: int,
    site_id: str,
    unit_id: str,
    day: date,
    temperature: float,
    symptoms: Sequence[str],
    signs: Sequence[str],
    ts: datetime,
) -> int:
    """Store a check-in, and (with signs) the symptom row the detector reads; its id."""
    cur = await conn.execute(
        "INSERT INTO staff_checkins (person_id, site_id, unit_id, day, temperature, symptoms, ts)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        [person_id, site_id, unit_id, day, temperature, list(symptoms), ts],
    )
    row = await cur.fetchone()
    assert row is not None
    if signs:
        await conn.execute(
            "INSERT INTO symptom_observations"
            " (staff_person, site_id, unit_id, symptoms, temperature, ts, recorded_by)"
            " SELECT %s, %s, %s, %s, %s, %s, staff_id FROM staff_people WHERE person_id = %s",
            [person_id, site_id, unit_id, list(signs), temperature, ts, person_id],
        )
    return int(row[0])


async def of_day(conn: Conn, *, site_id: str, day: date, scope: Scope) -> list[dict[str, Any]]:
    """The day's check-ins at a site within the caller's scope, earliest first."""
    where, params = scope
    query = DAY + f" AND {where} ORDER BY c.ts"  # scope: fixed parts, never input
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, [site_id, day, *params])
        return await cur.fetchall()


async def unit_exists(conn: Conn, *, site_id: str, unit_id: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM units WHERE site_id = %s AND unit_id = %s", [site_id, unit_id]
    )
    return await cur.fetchone() is not None
