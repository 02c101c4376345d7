"""SQL of visit schedules and visits: each schedule with its last visit, by resident or for
the overdue list (in the caller's scope), and a visit recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]
Scope = tuple[str, Sequence[object]]  # from Principal.scope_sql: fixed parts, never input

_SELECT: Final = (
    "SELECT s.schedule_id, s.resident_id, r.display_name, r.site_id, r.unit_id, s.kind,"
    " s.label, s.interval_hours, s.starts_at, s.active,"
    " (SELECT max(v.done_at) FROM visits v WHERE v.schedule_id = s.schedule_id)"
    " FROM visit_schedules s JOIN residents r USING (resident_id)"
)
NAMES: Final = (
    "schedule_id",
    "resident_id",
    "display_name",
    "site_id",
    "unit_id",
    "kind",
    "label",
    "interval_hours",
    "starts_at",
    "active",
    "last_done_at",
)
# A family doctor's scope here: the residents under a contract in force with them (the rule
# of services/api/repos/family.py, per row; parameters: doctor, now, now).
CASELOAD: Final = (
    "EXISTS (SELECT 1 FROM family_doctor_contracts c WHERE c.resident_id = r.resident_id"
    " AND c.doctor = %s AND c.start_on <= (%s::timestamptz AT TIME ZONE r.timezone)::date"
    " AND c.end_on >= (%s::timestamptz AT TIME ZONE r.timezone)::date)"
)


def _row(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(NAMES, row, strict=True))


async def create(conn: Conn, *, resident_id: int, fields: dict[str, Any], by: str) -> int:
    cur = await conn.execute(
        "INSERT INTO visit_schedules (resident_id, kind, label, interval_hours, starts_at,"
        " created_by) VALUES (%(rid)s, %(kind)s, %(label)s, %(interval_hours)s, %(starts_at)s,"
        " %(by)s) RETURNING schedule_id",
        {**fields, "rid": resident_id, "by": by},
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def get(conn: Conn, *, schedule_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(f"{_SELECT} WHERE s.schedule_id = %s", [schedule_id])
    row = await cur.fetchone()
    return None if row is None else _row(row)


async def set_active(conn: Conn, *, schedule_id: int, active: bool) -> None:
    await conn.execute(
        "UPDATE visit_schedules SET active = %s WHERE schedule_id = %s", [active, schedule_id]
    )


async def of_resident(conn: Conn, *, resident_id: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"{_SELECT} WHERE s.resident_id = %s ORDER BY s.schedule_id",
        [resident_id],
    )
    return [_row(row) for row in await cur.fetchall()]


async def active_in(conn: Conn, *, scope: Scope, site: str | None) -> list[dict[str, Any]]:
    """Active schedules of admitted residents in `scope` (and `site`, if given)."""
    where, args = [scope[0], "s.active", "r.status = 'admitted'"], list(scope[1])
    if site is not None:
        where.append("r.site_id = %s")
        args.append(site)
    cur = await conn.execute(
        f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY s.schedule_id",
        args,
    )
    return [_row(row) for row in await cur.fetchall()]


async def record_visit(
    conn: Conn, *, schedule_id: int, resident_id: int, done_at: datetime, by: str, note: str
) -> int:
    cur = await conn.execute(
        "INSERT INTO visits (schedule_id, resident_id, done_at, done_by, note)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING visit_id",
        [schedule_id, resident_id, done_at, by, note],
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])
