"""Regions (issue 18): a district over institutions (sites), whose regulators read its sites'
indicators. Made and assigned by an operator (`carewatch region add`, `carewatch site add
--region`, `carewatch site region`), with the owner's account."""

from __future__ import annotations

from psycopg import AsyncConnection, errors
from psycopg.rows import TupleRow

from services.errors import CareWatchError

Conn = AsyncConnection[TupleRow]


class RegionError(CareWatchError, ValueError):
    """A region or a site's region that cannot be set as asked."""


async def add_region(conn: Conn, *, region_id: str, name: str) -> bool:
    """Make a region, or rename it; True when it is new."""
    if not name.strip():
        raise RegionError("a region needs a name (--name)")
    try:
        cur = await conn.execute(
            "INSERT INTO regions (region_id, name) VALUES (%s, %s) ON CONFLICT (region_id)"
            " DO UPDATE SET name = excluded.name RETURNING (xmax = 0)",
            [region_id, name],
        )
    except errors.CheckViolation:
        raise RegionError("a region id is 1-64 letters, digits, _ and -") from None
    row = await cur.fetchone()
    assert row is not None
    return bool(row[0])


async def set_site_region(conn: Conn, *, site_id: str, region_id: str | None) -> None:
    """Put a site in a region (None: in none)."""
    try:
        cur = await conn.execute(
            "UPDATE sites SET region_id = %s WHERE site_id = %s", [region_id, site_id]
        )
    except errors.ForeignKeyViolation:
        raise RegionError(f"no region {region_id!r} (carewatch region add)") from None
    if cur.rowcount == 0:
        raise RegionError(f"no site {site_id!r} (carewatch site add)")
