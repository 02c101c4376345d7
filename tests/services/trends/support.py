"""Helpers for the trends tests: store readings as the writer does (one statement, so one
trigger run), aggregate them in Python, read the rollups back, refresh."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from services.trends.grid import floor_to
from services.trends.refresh import RefreshResult, refresh_rollups
from tests.support import Conn, wait_for

Reading = tuple[datetime, str, float]  # ts, metric, value
Stats = tuple[float, float, float, int]  # min, avg, max, count


def store(
    conn: Conn, resident_id: int | None, readings: Iterable[Reading], *, device: str = ""
) -> int:
    rows = list(readings)
    cur = conn.execute(
        "INSERT INTO readings (ts, device_id, resident_id, metric, value, source, received_at)"
        " SELECT ts, %(device)s, %(rid)s, metric, value, 'vitals', now()"
        " FROM unnest(%(ts)s::timestamptz[], %(metric)s::text[], %(value)s::float8[])"
        " AS r (ts, metric, value) ON CONFLICT DO NOTHING",
        {
            "device": device or f"trend-dev-{resident_id}",
            "rid": resident_id,
            "ts": [r[0] for r in rows],
            "metric": [r[1] for r in rows],
            "value": [r[2] for r in rows],
        },
    )
    return cur.rowcount


def expected(readings: Iterable[Reading], width: timedelta) -> dict[tuple[str, datetime], Stats]:
    groups: dict[tuple[str, datetime], list[float]] = defaultdict(list)
    for ts, metric, value in readings:
        groups[(metric, floor_to(ts, width))].append(value)
    return {k: (min(v), sum(v) / len(v), max(v), len(v)) for k, v in groups.items()}


def rollup(conn: Conn, table: str, resident_id: int) -> dict[tuple[str, datetime], Stats]:
    assert table in ("readings_1m", "readings_1h")
    rows = conn.execute(
        f"SELECT metric, bucket, min, sum / count, max, count FROM {table} WHERE resident_id = %s",
        [resident_id],
    ).fetchall()
    return {(m, b): (lo, avg, hi, n) for m, b, lo, avg, hi, n in rows}


def raw(conn: Conn, width: timedelta, resident_id: int) -> dict[tuple[str, datetime], Stats]:
    """The same buckets straight from `readings`, by the database's own arithmetic."""
    rows = conn.execute(
        "SELECT metric, time_bucket(%s, ts) AS b, min(value), avg(value), max(value), count(*)"
        " FROM readings WHERE resident_id = %s GROUP BY metric, b",
        [width, resident_id],
    ).fetchall()
    return {(m, b): (lo, avg, hi, n) for m, b, lo, avg, hi, n in rows}


def same(got: dict[tuple[str, datetime], Stats], want: dict[tuple[str, datetime], Stats]) -> bool:
    """Equal keys, min / max / count exactly, averages to rounding (sums add in another order)."""
    return got.keys() == want.keys() and all(
        g[0] == w[0] and g[2] == w[2] and g[3] == w[3] and abs(g[1] - w[1]) <= 1e-9 * abs(w[1])
        for g, w in ((got[k], want[k]) for k in want)
    )


def refresh(conn: Conn, **kwargs: int) -> RefreshResult:
    """Refresh, waiting out a refresh another process (an ingest worker) is running."""
    return wait_for(
        lambda: refresh_rollups(conn, datetime.now(UTC), **kwargs),
        until=lambda r: not r.skipped,
        timeout=30,
        what="the refresh lock",
    )
