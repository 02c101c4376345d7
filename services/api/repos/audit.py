"""SQL of the audit router: the audit log, newest first (entries are written by
services/auth/audit.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]

_COLUMNS: Final = (
    "audit_id, at, actor, role, action, resource, resident_id, site_id, method, path, client,"
    " status"
)
NAMES: Final = tuple(_COLUMNS.replace(" ", "").split(","))


async def list_entries(
    conn: Conn,
    *,
    actor: str | None,
    resident: int | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """The entries matching every filter given, newest first."""
    where: list[str] = ["true"]
    args: list[object] = []
    for clause, value in (
        ("actor = %s", actor),
        ("resident_id = %s", resident),
        ("action = %s", action),
        ("at >= %s", since),
        ("at < %s", until),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)}"  # noqa: S608 - fixed parts
        " ORDER BY audit_id DESC LIMIT %s OFFSET %s",
        [*args, limit, offset],
    )
    return [dict(zip(NAMES, row, strict=True)) for row in await cur.fetchall()]
