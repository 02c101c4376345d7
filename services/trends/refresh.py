"""Keep the rollups (`readings_1m`, `readings_1h`) up to date from the notes of what changed.

Every write to `readings` notes what it touched in `rollup_dirty` (per resident and hour: the
metrics, the first and last reading time), in its own transaction (a statement trigger,
migration 0006). A refresh step, in one transaction: takes up to `notes_per_step` notes
(deleting them), merges the minutes they cover into spans, rebuilds the 1-minute rollups of
those spans from raw, then the 1-hour rollups of the hours holding them from the 1-minute ones.
Rebuilding (delete, then aggregate) rather than adding makes it idempotent: a note seen twice, a
reading that arrived hours late, a correction by hand all end in the rollup the raw rows give.
Its later statements read a newer snapshot than the one that took the notes, so they see every
reading the notes were written with.

Two processes may call it at once: an advisory lock lets one refresh at a time and the other
returns at once (`skipped`); it would otherwise race to write older aggregates over newer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg.rows import TupleRow

from ingest.worker import Job
from services.trends.grid import HOUR
from services.trends.spans import Span, by_day, merge, widen

LOCK_KEY = 7_302_206  # any fixed key; services.db.migrate uses its neighbour
# A step rebuilds every minute its notes touch, so a busy minute's notes must fit in one step:
# split across steps, the same current minute of every resident was rebuilt once per step,
# and steps per minute grow with the ward, so the refresh cost grew with its square (20,000
# per step: 10 rebuilds of each minute at 2,000 residents, about 200,000 notes a minute, found
# by bench/load.py). A note is a small row; this bounds one transaction after a long backlog.
NOTES_PER_STEP = 500_000

# Takes the oldest notes and returns, per resident and metric, the runs of minutes they cover
# (range_agg merges overlapping and adjacent ranges).
_TAKE = """
WITH taken AS (
    DELETE FROM rollup_dirty WHERE id IN (
        SELECT id FROM rollup_dirty WHERE noted_at <= %(now)s ORDER BY id LIMIT %(limit)s)
    RETURNING resident_id, metrics, first_ts, last_ts
), runs AS (
    SELECT t.resident_id, m.metric,
           range_agg(tstzrange(time_bucket(INTERVAL '1 minute', t.first_ts),
                               time_bucket(INTERVAL '1 minute', t.last_ts) + INTERVAL '1 minute'))
               AS minutes
    FROM taken t, unnest(t.metrics) AS m (metric)
    GROUP BY t.resident_id, m.metric
)
SELECT (SELECT count(*) FROM taken), r.resident_id, r.metric, lower(run), upper(run)
FROM runs r, unnest(r.minutes) AS run
UNION ALL
SELECT (SELECT count(*) FROM taken), NULL, NULL, NULL, NULL
"""

_SPANS = (
    "unnest(%(rid)s::bigint[], %(metric)s::text[], %(lo)s::timestamptz[], %(hi)s::timestamptz[])"
    " AS d (resident_id, metric, lo, hi)"
)
# Each statement also bounds the time column by constants (`from`, `to`, within one UTC day),
# so TimescaleDB plans only the chunks they name.
_REBUILD_MINUTES = (
    f"DELETE FROM readings_1m r USING {_SPANS}"  # noqa: S608 - fixed parts
    " WHERE r.resident_id = d.resident_id AND r.metric = d.metric"
    " AND r.bucket >= d.lo AND r.bucket < d.hi AND r.bucket >= %(from)s AND r.bucket < %(to)s",
    "INSERT INTO readings_1m (resident_id, metric, bucket, min, max, sum, count)"  # noqa: S608
    " SELECT r.resident_id, r.metric, time_bucket(INTERVAL '1 minute', r.ts),"
    " min(r.value), max(r.value), sum(r.value), count(*)"
    f" FROM {_SPANS} JOIN readings r ON r.resident_id = d.resident_id AND r.metric = d.metric"
    " AND r.ts >= d.lo AND r.ts < d.hi"
    " WHERE r.ts >= %(from)s AND r.ts < %(to)s"
    " GROUP BY 1, 2, 3",
)
_REBUILD_HOURS = (
    f"DELETE FROM readings_1h r USING {_SPANS}"  # noqa: S608 - fixed parts
    " WHERE r.resident_id = d.resident_id AND r.metric = d.metric"
    " AND r.bucket >= d.lo AND r.bucket < d.hi AND r.bucket >= %(from)s AND r.bucket < %(to)s",
    "INSERT INTO readings_1h (resident_id, metric, bucket, min, max, sum, count)"  # noqa: S608
    " SELECT m.resident_id, m.metric, time_bucket(INTERVAL '1 hour', m.bucket),"
    " min(m.min), max(m.max), sum(m.sum), sum(m.count)"
    f" FROM {_SPANS} JOIN readings_1m m ON m.resident_id = d.resident_id"
    " AND m.metric = d.metric AND m.bucket >= d.lo AND m.bucket < d.hi"
    " WHERE m.bucket >= %(from)s AND m.bucket < %(to)s"
    " GROUP BY 1, 2, 3",
)


@dataclass(frozen=True, slots=True)
class RefreshResult:
    skipped: bool  # another process was refreshing: nothing done here
    steps: int
    notes: int  # dirty notes consumed
    minutes: int  # 1-minute rollup rows written
    hours: int  # 1-hour rollup rows written
    remaining: bool  # stopped at max_steps with notes left


def refresh_rollups(
    conn: psycopg.Connection[TupleRow],
    now: datetime,
    *,
    max_steps: int | None = None,
    notes_per_step: int = NOTES_PER_STEP,
) -> RefreshResult:
    """Fold in every note written at or before `now`. `conn` must be in autocommit."""
    steps = notes = minutes = hours = 0
    while max_steps is None or steps < max_steps:
        with conn.transaction():
            locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY]).fetchone()
            if not (locked and locked[0]):
                return RefreshResult(steps == 0, steps, notes, minutes, hours, False)
            # The planner cannot see how many readings the spans hold (it guesses a few rows
            # from the unnest), and for millions it sorts them to group, spilling to disk.
            # Hashing suits every size here (the groups are the minutes rebuilt, 144,000 for a
            # day of 100 residents: ~20 MB) and halves the time of a backfilled day.
            conn.execute("SET LOCAL enable_sort = off")
            conn.execute("SET LOCAL work_mem = '64MB'")
            taken, runs = _take(conn, now, notes_per_step)
            for _day, spans in by_day(runs):
                minutes += _rebuild(conn, _REBUILD_MINUTES, spans)
            for _day, spans in by_day(widen(runs, HOUR)):
                hours += _rebuild(conn, _REBUILD_HOURS, spans)
        steps += 1
        notes += taken
        if taken < notes_per_step:
            return RefreshResult(False, steps, notes, minutes, hours, False)
    return RefreshResult(False, steps, notes, minutes, hours, True)


# The ingest worker refreshes this often (`refresh_job`): trends answer the minutes not yet
# folded in from raw readings, and this bounds that tail.
REFRESH_EVERY_S = 60.0


def refresh_job() -> Job:
    """The ingest worker's periodic rollup refresh, on a connection of its own (a backfill
    can take seconds to fold in; batches must not wait). A failed run leaves the notes for the
    next one."""
    return Job(
        "trend rollups",
        REFRESH_EVERY_S,
        lambda conn: refresh_rollups(conn, datetime.now(UTC)),
        apart=True,
    )


def _take(conn: psycopg.Connection[TupleRow], now: datetime, limit: int) -> tuple[int, list[Span]]:
    rows = conn.execute(_TAKE, {"now": now, "limit": limit}, prepare=False).fetchall()
    taken = int(rows[0][0])  # the UNION ALL's last row is there even when nothing was taken
    runs = [Span(int(r[1]), str(r[2]), r[3], r[4]) for r in rows if r[1] is not None]
    return taken, merge(runs)


def _rebuild(
    conn: psycopg.Connection[TupleRow], statements: tuple[str, str], spans: list[Span]
) -> int:
    args = {
        "rid": [s.resident_id for s in spans],
        "metric": [s.metric for s in spans],
        "lo": [s.start for s in spans],
        "hi": [s.end for s in spans],
        # The tightest constant bounds: they pick the chunk, and tell the planner whether an
        # index scan (a minute or two of new readings) or a sequential scan (a backfilled day)
        # is cheaper.
        "from": min(s.start for s in spans),
        "to": max(s.end for s in spans),
    }
    delete, insert = statements
    # Bounds change every time: a generic plan would not exclude chunks by them.
    conn.execute(delete, args, prepare=False)
    return conn.execute(insert, args, prepare=False).rowcount
