"""SQL of family-doctor contracts: CRUD, a doctor's caseload, and coverage per site and
special-needs category (contracted residents of a category / residents of that category)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.api.repos.family import IN_FORCE, TODAY

Conn = AsyncConnection[TupleRow]
Scope = tuple[str, Sequence[object]]  # from Principal.scope_sql: fixed parts, never input

COLUMNS: Final = (
    "c.contract_id, c.resident_id, r.site_id, r.unit_id, c.team, c.doctor, c.start_on,"
    " c.end_on, c.service_package, c.category, c.created_by, c.created_at"
)
NAMES: Final = tuple(c.strip().removeprefix("c.").removeprefix("r.") for c in COLUMNS.split(","))
CATEGORIES: Final = ("disabled", "aged_80_plus", "special_difficulty")
EDITABLE: Final = ("team", "start_on", "end_on", "service_package", "category")
# The day counted: the one asked for, or each resident's own date at %(now)s.
_DAY: Final = "coalesce(%(on)s::date, (%(now)s::timestamptz AT TIME ZONE r.timezone)::date)"
# Residents of a category that day: listed under it, or (80+) by birth date as well.
_OF_CATEGORY: Final = (
    "(%(cat)s = ANY(r.special_needs) OR (%(cat)s = 'aged_80_plus' AND r.birth_date IS NOT NULL"
    f" AND r.birth_date <= ({_DAY} - interval '80 years')::date))"
)


def _contract(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(NAMES, row, strict=True))


async def is_family_doctor(conn: Conn, *, username: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM users WHERE username = %s AND role = 'family_doctor' AND active",
        [username],
    )
    return await cur.fetchone() is not None


async def site_exists(conn: Conn, *, site_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM sites WHERE site_id = %s", [site_id])
    return await cur.fetchone() is not None


async def create(conn: Conn, *, fields: dict[str, Any], created_by: str) -> int:
    cur = await conn.execute(
        "INSERT INTO family_doctor_contracts (resident_id, team, doctor, start_on, end_on,"
        " service_package, category, created_by) VALUES (%(resident_id)s, %(team)s, %(doctor)s,"
        " %(start_on)s, %(end_on)s, %(service_package)s, %(category)s, %(by)s)"
        " RETURNING contract_id",
        {**fields, "by": created_by},
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def get(conn: Conn, *, contract_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM family_doctor_contracts c JOIN residents r"  # noqa: S608
        " USING (resident_id) WHERE c.contract_id = %s",
        [contract_id],
    )
    row = await cur.fetchone()
    return None if row is None else _contract(row)


async def update(conn: Conn, *, contract_id: int, changes: dict[str, Any]) -> None:
    sets = ", ".join(f"{k} = %({k})s" for k in changes if k in EDITABLE)
    if sets:
        await conn.execute(
            f"UPDATE family_doctor_contracts SET {sets} WHERE contract_id = %(id)s",  # noqa: S608
            {**changes, "id": contract_id},
        )


async def delete(conn: Conn, *, contract_id: int) -> None:
    await conn.execute("DELETE FROM family_doctor_contracts WHERE contract_id = %s", [contract_id])


async def list_contracts(
    conn: Conn,
    *,
    scope: Scope,
    doctor: str | None,
    resident: int | None,
    in_force_on: date | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    where, args = [scope[0]], list(scope[1])
    for column, value in (("c.doctor", doctor), ("c.resident_id", resident)):
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    if in_force_on is not None:
        where.append("c.start_on <= %s AND c.end_on >= %s")
        args += [in_force_on, in_force_on]
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM family_doctor_contracts c JOIN residents r"  # noqa: S608
        f" USING (resident_id) WHERE {' AND '.join(where)}"
        " ORDER BY c.contract_id LIMIT %s OFFSET %s",
        [*args, limit, offset],
    )
    return [_contract(row) for row in await cur.fetchall()]


async def caseload(conn: Conn, *, scope: Scope, doctor: str, now: datetime) -> list[dict[str, Any]]:
    """The residents (in `scope`) under a contract in force with `doctor` (on each one's
    own date at `now`)."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (r.resident_id) r.resident_id, r.display_name, r.site_id,"  # noqa: S608
        " r.unit_id, s.kind, r.status, c.contract_id, c.end_on, c.category,"
        " (SELECT count(*) FROM alerts_view a WHERE a.resident_id = r.resident_id"
        "  AND a.resolved_at IS NULL)"
        " FROM family_doctor_contracts c JOIN residents r USING (resident_id)"
        f" JOIN sites s ON s.site_id = r.site_id {TODAY} WHERE {scope[0]} AND c.doctor = %s"
        f" AND {IN_FORCE} ORDER BY r.resident_id, c.end_on DESC",
        [now, *scope[1], doctor],
    )
    names = (
        "resident_id",
        "display_name",
        "site_id",
        "unit_id",
        "site_kind",
        "status",
        "contract_id",
        "contract_ends_on",
        "category",
        "open_alerts",
    )
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


async def coverage(
    conn: Conn, *, site_id: str, on: date | None, now: datetime
) -> list[tuple[str, int, int]]:
    """(category, residents of it, of those under a contract in force on `on`, None: each
    resident's today) per category; residents discharged or deceased are not counted."""
    out = []
    for category in CATEGORIES:
        cur = await conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM"  # noqa: S608
            " family_doctor_contracts c WHERE c.resident_id = r.resident_id"
            f" AND c.start_on <= {_DAY} AND c.end_on >= {_DAY})) FROM residents r"
            f" WHERE r.site_id = %(site)s AND r.status IN ('admitted', 'in_hospital')"
            f" AND {_OF_CATEGORY}",
            {"cat": category, "on": on, "now": now, "site": site_id},
        )
        row = await cur.fetchone()
        assert row is not None
        out.append((category, int(row[0]), int(row[1])))
    return out
