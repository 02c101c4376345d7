"""The trend queries: a resident's pending minutes, then the bucketed series from the sources
the plan chose, in one snapshot (so a minute is counted from its rollup or its raw, never both
and never neither)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

from services.trends.grid import MINUTE, floor_to
from services.trends.plan import Plan, Segment, Source, Sources, sources

# Every part yields (metric, t, lo, hi, total, n) on its own grid; the outer query re-buckets.
_PARTS: dict[Source, str] = {
    "rollup_1h": "SELECT metric, bucket, min, max, sum, count FROM readings_1h"
    " WHERE resident_id = %(rid)s AND metric = ANY(%(metrics)s)"
    " AND bucket >= {start} AND bucket < {end}",
    "rollup_1m": "SELECT metric, bucket, min, max, sum, count FROM readings_1m"
    " WHERE resident_id = %(rid)s AND metric = ANY(%(metrics)s)"
    " AND bucket >= {start} AND bucket < {end}",
    "raw": "SELECT metric, ts, value, value, value, 1 FROM readings"
    " WHERE resident_id = %(rid)s AND metric = ANY(%(metrics)s)"
    " AND ts >= {start} AND ts < {end}",
}


@dataclass(frozen=True, slots=True)
class Point:
    ts: datetime
    min: float
    avg: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class Trend:
    sources: Sources
    series: dict[str, list[Point]]  # every metric asked for, in the order asked


async def fetch_trend(
    conn: AsyncConnection[TupleRow], *, resident_id: int, plan: Plan, now: datetime
) -> Trend | None:
    """The trend, or None when there is no such resident. `conn` must be in autocommit."""
    args: dict[str, Any] = {
        "rid": resident_id,
        "metrics": list(plan.metrics),
        "start": plan.start,
        "end": plan.end,
    }
    async with conn.transaction():
        # One snapshot for both statements; read-only so it never waits on writers.
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur = await conn.execute(
            "SELECT EXISTS (SELECT 1 FROM residents WHERE resident_id = %(rid)s),"
            " (SELECT min(first_ts) FROM rollup_dirty WHERE resident_id = %(rid)s"
            "  AND first_ts < %(end)s AND last_ts >= %(start)s AND metrics && %(metrics)s::text[])",
            args,
        )
        row = await cur.fetchone()
        assert row is not None
        exists, first_pending = row
        if not exists:
            return None
        pending_from = None
        if first_pending is not None:  # a note may start before the range: its minutes in it
            pending_from = max(floor_to(first_pending, MINUTE), plan.start)
        chosen = sources(plan, pending_from=pending_from, now=now)
        query, params = _series_query(chosen.segments, plan)
        cur = await conn.execute(query, {**args, **params})
        rows = await cur.fetchall()
    series: dict[str, list[Point]] = {m: [] for m in plan.metrics}
    for metric, ts, low, avg, high, n in rows:
        series[metric].append(Point(ts, low, avg, high, n))
    return Trend(chosen, series)


def _series_query(segments: tuple[Segment, ...], plan: Plan) -> tuple[sql.Composed, dict[str, Any]]:
    params: dict[str, Any] = {"width": plan.width}
    parts = []
    for i, segment in enumerate(segments):
        params[f"s{i}"], params[f"e{i}"] = segment.start, segment.end
        parts.append(
            sql.SQL(_PARTS[segment.source]).format(
                start=sql.Placeholder(f"s{i}"), end=sql.Placeholder(f"e{i}")
            )
        )
    query = sql.SQL(
        "SELECT metric, time_bucket(%(width)s, t) AS b, min(lo), sum(total) / sum(n), max(hi),"
        " sum(n) FROM ({parts}) AS parts (metric, t, lo, hi, total, n)"
        " GROUP BY metric, b ORDER BY metric, b"
    ).format(parts=sql.SQL(" UNION ALL ").join(parts))
    return query, params
