"""SQL of outbreak surveillance: symptoms charted on rounds, and the case files with their
line lists (the detector opens them and adds cases; people close them here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import TupleRow, dict_row
from psycopg.types.json import Jsonb

Conn = AsyncConnection[TupleRow]
# Scope fragments come from auth.principal.Principal.scope_sql: fixed parts, never input.
Scope = tuple[str, Sequence[object]]

COLUMNS: Final = (
    "o.outbreak_id, o.site_id, o.unit_id, o.syndrome, o.rule_id, o.status, o.drill, o.opened_at,"
    " o.updated_at, o.reported_at, o.reported_to, o.reference, o.closed_by, o.closed_at, o.note,"
    " (SELECT count(*) FROM outbreak_cases c WHERE c.outbreak_id = o.outbreak_id) AS cases,"
    " (SELECT min(onset) FROM outbreak_cases c WHERE c.outbreak_id = o.outbreak_id)"
    " AS first_onset"
)


class DrillAlreadyOpen(Exception):
    """A drill of the unit and syndrome is open already (one at a time)."""


async def list_outbreaks(
    conn: Conn, *, scope: Scope, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    where, params = scope
    query = f"SELECT {COLUMNS} FROM outbreaks o WHERE {where}"  # noqa: S608 - fixed parts
    args = list(params)
    if status is not None:
        query += " AND o.status = %s"
        args.append(status)
    query += " ORDER BY o.status = 'open' DESC, o.opened_at DESC LIMIT %s OFFSET %s"
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, [*args, limit, offset])
        return await cur.fetchall()


async def get_outbreak(conn: Conn, *, outbreak_id: int) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {COLUMNS} FROM outbreaks o WHERE o.outbreak_id = %s",  # noqa: S608
            [outbreak_id],
        )
        return await cur.fetchone()


async def line_list(conn: Conn, *, outbreak_id: int) -> list[dict[str, Any]]:
    """Every case, earliest onset first; a resident's name from their record, staff's as the
    roster gave it when they checked in."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT c.person_kind, c.person_id, o.drill,"
            " coalesce(r.display_name, p.name) AS name,"
            " c.unit_id, c.onset, c.signs, c.temperature FROM outbreak_cases c"
            " JOIN outbreaks o USING (outbreak_id)"
            " LEFT JOIN residents r ON c.person_kind = 'resident' AND r.resident_id = c.person_id"
            " AND NOT o.drill"
            " LEFT JOIN staff_people p ON c.person_kind = 'staff' AND p.person_id = c.person_id"
            " WHERE c.outbreak_id = %s ORDER BY c.onset, c.person_kind, c.person_id",
            [outbreak_id],
        )
        return await cur.fetchall()


async def close(
    conn: Conn,
    *,
    outbreak_id: int,
    status: str,
    by: str,
    now: datetime,
    reported_at: datetime | None = None,
    reported_to: str | None = None,
    reference: str | None = None,
    note: str | None = None,
) -> bool:
    """Close an open case file; False if it is not open (any more)."""
    cur = await conn.execute(
        "UPDATE outbreaks SET status = %s, reported_at = %s, reported_to = %s, reference = %s,"
        " note = %s, closed_by = %s, closed_at = %s, updated_at = %s"
        " WHERE outbreak_id = %s AND status = 'open'",
        [status, reported_at, reported_to, reference, note, by, now, now, outbreak_id],
    )
    return cur.rowcount == 1


async def record_symptoms(
    conn: Conn, *, resident_id: int, symptoms: Sequence[str], ts: datetime, recorded_by: str
) -> int:
    """A round's symptoms, for the detector to read in order; returns the row's id."""
    cur = await conn.execute(
        "INSERT INTO symptom_observations (resident_id, symptoms, ts, recorded_by)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        [resident_id, list(symptoms), ts, recorded_by],
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def open_drill(
    conn: Conn,
    *,
    site_id: str,
    unit_id: str,
    syndrome: str,
    rule_id: str,
    signs: Sequence[str],
    cases: int,
    now: datetime,
) -> int:
    """A drill's case file with made-up cases (ids -1, -2, ...: no person has one); its id.
    DrillAlreadyOpen when one of the unit and syndrome is open."""
    try:
        cur = await conn.execute(
            "INSERT INTO outbreaks (site_id, unit_id, syndrome, rule_id, drill, opened_at,"
            " updated_at) VALUES (%s, %s, %s, %s, true, %s, %s) RETURNING outbreak_id",
            [site_id, unit_id, syndrome, rule_id, now, now],
        )
    except UniqueViolation:
        raise DrillAlreadyOpen(f"a drill of {site_id}/{unit_id} ({syndrome}) is open") from None
    row = await cur.fetchone()
    assert row is not None
    outbreak_id = int(row[0])
    async with conn.cursor() as many:
        await many.executemany(
            "INSERT INTO outbreak_cases (outbreak_id, person_kind, person_id, unit_id, onset,"
            " signs, added_at) VALUES (%s, 'resident', %s, %s, %s, %s, %s)",
            [(outbreak_id, -n, unit_id, now, list(signs), now) for n in range(1, cases + 1)],
        )
    return outbreak_id


async def page_drill(conn: Conn, *, outbreak_id: int, title: str, figures: dict[str, Any]) -> None:
    """Hand the drill's page to the alert service as the detector hands a cluster's: through
    a function that writes only a drill's candidate (migration 0028)."""
    await conn.execute(
        "SELECT carewatch_page_drill(%s, %s, %s)", [outbreak_id, title, Jsonb(figures)]
    )


async def unit_exists(conn: Conn, *, site_id: str, unit_id: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM units WHERE site_id = %s AND unit_id = %s", [site_id, unit_id]
    )
    return await cur.fetchone() is not None
