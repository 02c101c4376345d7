"""The care team document in the database: stored whole and versioned, read back validated."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from services.careteam.team import CareTeam, Placement, load_care_team

__all__ = ["current_team", "placements", "store_team"]


async def store_team(conn: AsyncConnection[TupleRow], team: CareTeam, *, by: str) -> int:
    """Store a validated document as the new version; the alert service picks it up."""
    cur = await conn.execute(
        "INSERT INTO care_team (document, stored_by) VALUES (%s, %s) RETURNING version",
        [Jsonb(team.model_dump(mode="json")), by],
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def current_team(conn: AsyncConnection[TupleRow]) -> tuple[int, CareTeam]:
    """The newest version and its document; (0, an empty team) before any was stored."""
    cur = await conn.execute(
        "SELECT version, document FROM care_team ORDER BY version DESC LIMIT 1"
    )
    row = await cur.fetchone()
    if row is None:
        return 0, CareTeam()
    return int(row[0]), load_care_team(row[1])


async def placements(conn: AsyncConnection[TupleRow]) -> dict[int, Placement]:
    """Every resident's site, unit and time zone."""
    cur = await conn.execute("SELECT resident_id, site_id, unit_id, timezone FROM residents")
    return {int(r[0]): (r[1], r[2], r[3]) for r in await cur.fetchall()}
