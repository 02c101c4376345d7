"""SQL of the ward overview: each resident in scope with their place, what scores their NEWS2,
and their open alerts (how many, the most severe)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.api.repos.alerts import SEVERITY_RANK
from services.api.repos.news2 import Scale

Conn = AsyncConnection[TupleRow]
# Scope fragments come from auth.principal.Principal.place_sql / scope_sql: fixed parts.
Scope = tuple[str, Sequence[object]]
SEVERITIES: Final = {4: "critical", 3: "high", 2: "medium", 1: "low"}


@dataclass(frozen=True, slots=True)
class WardRow:
    resident_id: int
    site_id: str
    unit_id: str
    display_name: str
    room: str | None
    bed: str | None
    news2_scale: Scale
    site_overrides: Any
    own_overrides: Any
    open_alerts: int
    top_severity: str | None


async def residents(
    conn: Conn, *, place: Scope, alert_scope: Scope, limit: int, offset: int
) -> list[WardRow]:
    """The residents in `place` (on `r`), by unit, room and bed, each with the count and top
    severity of their open alerts that `alert_scope` (on `a`) lets the caller see."""
    cur = await conn.execute(
        "SELECT r.resident_id, r.site_id, r.unit_id, r.display_name, r.room, r.bed,"  # noqa: S608 - fixed parts
        " r.news2_scale, s.rule_overrides, r.rule_overrides, o.n, o.top"
        " FROM residents r JOIN sites s USING (site_id)"
        " CROSS JOIN LATERAL (SELECT count(*) AS n,"
        f" max({SEVERITY_RANK}) AS top FROM alerts_view a"
        " WHERE a.resident_id = r.resident_id AND a.resolved_at IS NULL"
        f" AND {alert_scope[0]}) o"
        f" WHERE {place[0]} AND r.status = 'admitted'"  # the board: only residents monitored
        " ORDER BY r.site_id, r.unit_id, r.room NULLS LAST, r.bed NULLS LAST, r.resident_id"
        " LIMIT %s OFFSET %s",
        [*alert_scope[1], *place[1], limit, offset],
    )
    return [
        WardRow(
            resident_id=row[0],
            site_id=row[1],
            unit_id=row[2],
            display_name=row[3],
            room=row[4],
            bed=row[5],
            news2_scale=cast(Scale, row[6]),
            site_overrides=row[7],
            own_overrides=row[8],
            open_alerts=int(row[9]),
            top_severity=SEVERITIES.get(row[10]) if row[10] is not None else None,
        )
        for row in await cur.fetchall()
    ]
