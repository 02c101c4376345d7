"""SQL of a resident's home-care details and the family view: the emergency plan and
special-needs categories, and what a family member may see (recent alerts, no notes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]


async def home_care(conn: Conn, *, resident_id: int) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT r.display_name, s.kind, r.address, r.emergency_plan, r.special_needs"
        " FROM residents r JOIN sites s USING (site_id) WHERE r.resident_id = %s",
        [resident_id],
    )
    row = await cur.fetchone()
    assert row is not None  # asked only for a resident in scope, who exists
    name, kind, address, plan, needs = row
    return {
        "display_name": name,
        "site_kind": kind,
        "address": address,
        "emergency_plan": plan,
        "special_needs": sorted(needs),
    }


async def set_home_care(
    conn: Conn, *, resident_id: int, emergency_plan: str | None, special_needs: Sequence[str] | None
) -> None:
    """Change what is given (None: leave as it is)."""
    await conn.execute(
        "UPDATE residents SET emergency_plan = CASE WHEN %s THEN %s ELSE emergency_plan END,"
        " special_needs = coalesce(%s, special_needs) WHERE resident_id = %s",
        [
            emergency_plan is not None,
            emergency_plan or None,
            None if special_needs is None else list(special_needs),
            resident_id,
        ],
    )


async def recent_alerts(
    conn: Conn, *, resident_id: int, since: datetime, limit: int
) -> list[dict[str, Any]]:
    """The resident's alerts opened since `since`, newest first: what happened and how it
    ended, never staff notes."""
    cur = await conn.execute(
        "SELECT alert_id, rule_id, title, severity, status, opened_at, acknowledged_at,"
        " resolved_at, outcome FROM alerts_view WHERE resident_id = %s AND opened_at >= %s"
        " ORDER BY opened_at DESC, alert_id DESC LIMIT %s",
        [resident_id, since, limit],
    )
    names = (
        "alert_id",
        "rule_id",
        "title",
        "severity",
        "status",
        "opened_at",
        "acknowledged_at",
        "resolved_at",
        "outcome",
    )
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]
