"""SQL of the NEWS2 board: each resident's scale and rule settings, the newest reading of each
NEWS2 parameter, and the band of an open NEWS2 alert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Literal, cast

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from rules.news2 import ALERT_BANDS, PARAMETERS, AlertBand
from rules.types import Vital
from services.readings import vitals_from_rows

Conn = AsyncConnection[TupleRow]
Scale = Literal[1, 2]  # the column's CHECK

# The newest reading of each NEWS2 parameter of each resident: one index probe per pair
# (readings_resident_metric_ts), not a scan of a day of wearable data.
_LATEST: Final = """
SELECT r.resident_id, l.ts, m.metric, l.value, l.source, l.device_id
FROM unnest(%(residents)s::bigint[]) AS r(resident_id)
CROSS JOIN unnest(%(metrics)s::text[]) AS m(metric)
JOIN LATERAL (SELECT ts, value, source, device_id FROM readings x
              WHERE x.resident_id = r.resident_id AND x.metric = m.metric
              AND x.ts >= %(since)s AND x.ts <= %(until)s
              ORDER BY x.ts DESC LIMIT 1) l ON true
"""


async def settings_page(
    conn: Conn, *, scope: tuple[str, Sequence[object]], limit: int, offset: int
) -> list[tuple[int, Scale, Any, Any]]:
    """(resident id, NEWS2 scale, the site's rule overrides, the resident's own) of the
    residents in `scope` (a fixed fragment from Principal.place_sql), by unit, room and bed."""
    cur = await conn.execute(
        "SELECT r.resident_id, r.news2_scale, s.rule_overrides, r.rule_overrides"  # noqa: S608 - fixed parts
        " FROM residents r JOIN sites s USING (site_id)"
        f" WHERE {scope[0]} AND r.status = 'admitted'"  # the board: only residents monitored
        " ORDER BY r.site_id, r.unit_id, r.room NULLS LAST, r.bed NULLS LAST, r.resident_id"
        " LIMIT %s OFFSET %s",
        [*scope[1], limit, offset],
    )
    return [(row[0], cast(Scale, row[1]), row[2], row[3]) for row in await cur.fetchall()]


async def latest_parameters(
    conn: Conn, *, residents: Sequence[int], since: datetime, until: datetime
) -> Mapping[int, dict[str, Vital]]:
    """Per resident, the newest reading of each NEWS2 parameter between `since` and `until`."""
    cur = await conn.execute(
        _LATEST,
        {"residents": list(residents), "metrics": list(PARAMETERS), "since": since, "until": until},
    )
    found: dict[int, dict[str, Vital]] = {}
    for row in await cur.fetchall():
        for vital in vitals_from_rows([row[1:]]):
            found.setdefault(int(row[0]), {})[vital.metric] = vital
    return found


async def open_alert_bands(conn: Conn, residents: list[int]) -> dict[int, AlertBand]:
    """The band of each resident's open NEWS2 alert: as in the detector, it holds the
    observation interval until a round vouches for improvement."""
    cur = await conn.execute(
        "SELECT resident_id, \"values\"->>'band' FROM alerts WHERE rule_id = 'news2'"
        " AND resident_id = ANY(%s) AND resolved_at IS NULL AND NOT condition_cleared",
        [residents],
    )
    return {int(rid): band for rid, band in await cur.fetchall() if band in ALERT_BANDS}
