"""SQL of the sites router: a site's kind."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]


async def set_kind(conn: Conn, *, site_id: str, kind: str) -> tuple[str, str, str] | None:
    """The site (id, name, kind) after the change; None: no such site."""
    cur = await conn.execute(
        "UPDATE sites SET kind = %s WHERE site_id = %s RETURNING site_id, name, kind",
        [kind, site_id],
    )
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))
