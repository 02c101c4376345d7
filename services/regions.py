"""Regions (issue 18): a district over institutions (sites), whose regulators read its sites'
indicators. Made and assigned by an operator (`carewatch region add`, `carewatch site add
--region`, `carewatch site region`) or an administrator of every site through the API
(services/api/routes/regions.py)."""

from __future__ import annotations

from psycopg import AsyncConnection, errors
from psycopg.rows import TupleRow

from services.errors import CareWatchError

Conn = AsyncConnection[TupleRow]


class RegionError(CareWatchError, ValueError):
    """A region or a site's region that cannot be set as asked."""


class NoSuchSite(RegionError):
    """The site to put in a region does not exist."""


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


async def create_region(conn: Conn, *, region_id: str, name: str) -> bool:
    """Make a region; False when one with that id exists already (nothing changed)."""
    cur = await conn.execute(
        "INSERT INTO regions (region_id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        [region_id, name],
    )
    return cur.rowcount == 1


async def set_site_region(conn: Conn, *, site_id: str, region_id: str | None) -> None:
    """Put a site in a region (None: in none)."""
    try:
        cur = await conn.execute(
            "UPDATE sites SET region_id = %s WHERE site_id = %s", [region_id, site_id]
        )
    except errors.ForeignKeyViolation:
        raise RegionError(f"no region {region_id!r}") from None
    if cur.rowcount == 0:
        raise NoSuchSite(f"no site {site_id!r} (carewatch site add)")
