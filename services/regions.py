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


class NoSuchRegion(RegionError):
    """The region named does not exist."""


async def set_lead_hospital(
    conn: Conn, *, region_id: str, hospital_id: str | None, known: frozenset[str]
) -> None:
    """Name the medical consortium's lead hospital of a region (None: none). `known`: the
    hospital ids of the care team's document, where hospitals are kept."""
    if hospital_id is not None and hospital_id not in known:
        raise RegionError(
            f"no hospital {hospital_id!r} in the care team's hospitals"
            f" ({', '.join(sorted(known)) or 'none'})"
        )
    cur = await conn.execute(
        "UPDATE regions SET lead_hospital_id = %s WHERE region_id = %s", [hospital_id, region_id]
    )
    if cur.rowcount == 0:
        raise NoSuchRegion(f"no region {region_id!r} (carewatch region add)")


async def lead_hospital(conn: Conn, region_id: str) -> str | None:
    cur = await conn.execute(
        "SELECT lead_hospital_id FROM regions WHERE region_id = %s", [region_id]
    )
    row = await cur.fetchone()
    return None if row is None else row[0]
