"""Trends benchmark: GET /api/v1/residents/{id}/vitals over 90 days of one metric for 100
residents, the rollups built by the product's own refresh, through the real FastAPI app.

What it loads (the target, 90 days × 1 Hz × 100 residents = 777.6 M rows, does not fit this
machine's time budget; the projection from the measured load rate is in the results):
- the newest `--dense-days` at 1 Hz, every resident: the raw shapes read what they would;
- the older days at one reading every `--sparse-every` seconds, every resident: every minute
  of 90 days holds readings, so the rollup tables (and the notes the refresh consumes) are
  exactly as large as with 1 Hz everywhere; only the readings per rollup bucket are fewer;
- after the refresh, the newest 90 s again, not refreshed: the state between two runs of the
  worker's refresh, so the rollup queries also read their raw tail.
Readings are generated inside PostgreSQL (INSERT … SELECT generate_series), interleaved by
time as ingest writes them, through the same table, indexes and dirty-note trigger.

Run: `.venv/bin/python -m bench.trends` (after scripts/setup). Writes bench/results/trends.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import random
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.common import machine, write_results
from services.api.app import create_app
from services.operations.local.env import scratch_settings
from services.operations.local.stack import LocalStack
from services.settings import Settings, admin_token, database_url
from services.trends.plan import Plan, plan_query
from services.trends.queries import fetch_trend
from services.trends.refresh import refresh_rollups

SITE = "bench"
METRIC = "hr"
TARGET_ROWS = 90 * 86_400 * 100
TARGETS = {"p95_ms": 100}
# Heap, indexes, notes and rollups per reading, with room for WAL: for the disk check only
# (the results give the measured size).
BYTES_PER_ROW = 250
console = Console()

# HR with a daily rhythm per resident, plus noise: buckets differ, as real ones do.
LOAD = """
INSERT INTO readings (ts, device_id, resident_id, metric, value, source, seq, received_at)
SELECT t, 'bench-' || r.i, r.id, 'hr',
       round(72 + 12 * sin(2 * pi() * extract(epoch FROM t) / 86400 + r.i) + 8 * random()),
       'vitals', NULL, t + INTERVAL '2 seconds'
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - INTERVAL '1 microsecond',
                     %(step)s::interval) AS t,
     unnest(%(ids)s::bigint[]) WITH ORDINALITY AS r (id, i)
"""


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    span: timedelta
    bucket: str
    source: str


SHAPES = [
    Shape("30d_1h", timedelta(days=30), "1h", "rollup_1h"),
    Shape("90d_1d", timedelta(days=90), "1d", "rollup_1h"),
    Shape("7d_15m", timedelta(days=7), "15m", "rollup_1m"),
    Shape("24h_5m", timedelta(hours=24), "5m", "rollup_1m"),
    Shape("1h_1m_raw", timedelta(hours=1), "1m", "raw"),
]


# --- loading ------------------------------------------------------------------------------


def provision(conn: psycopg.Connection[Any], n: int) -> list[int]:
    conn.execute("INSERT INTO sites VALUES (%s, 'Benchmark site') ON CONFLICT DO NOTHING", [SITE])
    conn.execute("INSERT INTO units VALUES (%s, 'u', 'Unit') ON CONFLICT DO NOTHING", [SITE])
    rows = conn.execute(
        "INSERT INTO residents (site_id, unit_id, display_name)"
        " SELECT %s, 'u', 'Bench ' || i FROM generate_series(1, %s) i RETURNING resident_id",
        [SITE, n],
    ).fetchall()
    return [int(r[0]) for r in rows]


def tasks(
    end: datetime, days: int, dense_days: float, sparse_every: int
) -> list[tuple[datetime, datetime, timedelta]]:
    """(start, end, step) per statement: an hour of 1 Hz, or a day of sparse readings."""
    dense_from = end - timedelta(days=dense_days)
    out = []
    t = end - timedelta(days=days)
    while t < end:
        if t >= dense_from:
            nxt = min(t + timedelta(hours=1), end)
            out.append((t, nxt, timedelta(seconds=1)))
        else:
            nxt = min(t + timedelta(days=1), dense_from)
            out.append((t, nxt, timedelta(seconds=sparse_every)))
        t = nxt
    return out


def rows_of(task: tuple[datetime, datetime, timedelta], residents: int) -> int:
    start, end, step = task
    return -(-(end - start) // step) * residents


def load(url: str, ids: list[int], work: list[tuple[datetime, datetime, timedelta]], n: int) -> int:
    """Run the statements on `n` sessions at once (PostgreSQL does the work: one per core)."""
    todo: queue.Queue[tuple[datetime, datetime, timedelta]] = queue.Queue()
    for task in work:
        todo.put(task)
    done = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def loader() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                while True:
                    try:
                        start, end, step = todo.get_nowait()
                    except queue.Empty:
                        return
                    args = {"start": start, "end": end, "step": step, "ids": ids}
                    stored = conn.execute(LOAD, args, prepare=False).rowcount
                    with lock:
                        done[0] += stored
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    total = sum(rows_of(t, len(ids)) for t in work)
    threads = [threading.Thread(target=loader, daemon=True) for _ in range(n)]
    with Progress(
        TextColumn("loading"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("load", total=total)
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            progress.update(bar, completed=done[0])
            time.sleep(0.5)
        progress.update(bar, completed=done[0])
    if errors:
        raise errors[0]
    return done[0]


# --- measuring ----------------------------------------------------------------------------


def quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "n": len(ordered),
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "max_ms": round(ordered[-1], 2),
    }


def measure_http(
    client: TestClient, ids: list[int], shape: Shape, end: datetime, n: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    start = end - shape.span
    params = {"metric": METRIC, "start": start.isoformat(), "end": end.isoformat()}
    params["bucket"] = shape.bucket
    samples: list[float] = []
    points: set[int] = set()
    sources: set[tuple[str, ...]] = set()
    for i in range(n + 10):
        rid = rng.choice(ids)
        t0 = time.perf_counter()
        response = client.get(f"/api/v1/residents/{rid}/vitals", params=params)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{shape.name}: HTTP {response.status_code}: {response.text}")
        body = response.json()
        if body["source"] != shape.source:
            raise RuntimeError(f"{shape.name}: answered from {body['source']}")
        if i >= 10:  # the first few open pool connections and warm the plan caches
            samples.append(elapsed)
            points.add(len(body["series"][0]["points"]))
            sources.add(tuple(s["source"] for s in body["segments"]))
    return {
        **quantiles(samples),
        "points": sorted(points),
        "segments": sorted("+".join(s) for s in sources),
    }


def check_against_raw(
    client: TestClient, conn: psycopg.Connection[Any], ids: list[int], end: datetime
) -> dict[str, Any]:
    """A fast answer must also be right: the headline shape against raw readings, in SQL."""
    buckets = 0
    for rid in random.Random(7).sample(ids, 3):
        start = end - timedelta(days=30)
        params = {"metric": METRIC, "start": start.isoformat(), "end": end.isoformat()}
        body = client.get(
            f"/api/v1/residents/{rid}/vitals", params={**params, "bucket": "1h"}
        ).json()
        got = {
            datetime.fromisoformat(p["ts"]): (p["min"], p["avg"], p["max"], p["count"])
            for p in body["series"][0]["points"]
        }
        rows = conn.execute(
            "SELECT time_bucket('1 hour', ts), min(value), avg(value), max(value), count(*)"
            " FROM readings WHERE resident_id = %s AND metric = %s AND ts >= %s AND ts < %s"
            " GROUP BY 1",
            [rid, METRIC, body["start"], body["end"]],
        ).fetchall()
        want = {b: (lo, avg, hi, n) for b, lo, avg, hi, n in rows}
        wrong = [
            b
            for b in want
            if b not in got
            or got[b][0] != want[b][0]
            or got[b][2:] != want[b][2:]
            or abs(got[b][1] - want[b][1]) > 1e-9 * abs(want[b][1])
        ]
        if wrong or got.keys() != want.keys():
            raise RuntimeError(f"resident {rid}: buckets differ from raw, e.g. {wrong[:3]}")
        buckets += len(want)
    return {"residents": 3, "buckets": buckets, "equal": True}


def measure_db(url: str, ids: list[int], shape: Shape, end: datetime, n: int) -> dict[str, Any]:
    """The same requests' database part alone (services.trends.queries.fetch_trend)."""
    plan: Plan = plan_query(metrics=[METRIC], start=end - shape.span, end=end, bucket=shape.bucket)

    async def run() -> list[float]:
        out: list[float] = []
        rng = random.Random(1)
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            for i in range(n + 10):
                t0 = time.perf_counter()
                trend = await fetch_trend(
                    conn, resident_id=rng.choice(ids), plan=plan, now=datetime.now(UTC)
                )
                if trend is None:
                    raise RuntimeError("resident vanished")
                if i >= 10:
                    out.append((time.perf_counter() - t0) * 1000)
        return out

    return quantiles(asyncio.run(run()))


def timed(what: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    console.print(f"[bold]{what}[/] …")
    t0 = time.perf_counter()
    value = fn()
    elapsed = time.perf_counter() - t0
    console.print(f"  {what}: {elapsed:.1f} s")
    return value, elapsed


def table_sizes(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for table in ("readings", "readings_1m", "readings_1h"):
        row = conn.execute(
            "SELECT count(*), hypertable_size(%s::regclass) FROM " + table,  # noqa: S608 - fixed
            [table],
        ).fetchone()
        assert row is not None
        out[table] = {"rows": int(row[0]), "bytes": int(row[1])}
    chunks = conn.execute("SELECT count(*) FROM show_chunks('readings')").fetchone()
    out["readings"]["chunks"] = int(chunks[0]) if chunks else 0
    return out


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--dense-days", type=float, default=1.0, help="newest days at 1 Hz")
    parser.add_argument("--sparse-every", type=int, default=60, help="seconds, older days")
    parser.add_argument("--loaders", type=int, default=2, help="sessions loading at once")
    parser.add_argument("--requests", type=int, default=300, help="per shape")
    parser.add_argument("--keep", action="store_true", help="keep the scratch data dir")
    args = parser.parse_args()
    if 60 % args.sparse_every:
        parser.error("--sparse-every must divide 60: every minute needs readings")

    started = time.perf_counter()
    load_before = os.getloadavg()
    settings: Settings = scratch_settings("carewatch-bench-trends-")
    end = datetime.now(UTC).replace(microsecond=0)
    tail = timedelta(seconds=90)
    work = tasks(end - tail, args.days, args.dense_days, args.sparse_every)
    planned = sum(rows_of(t, args.residents) for t in work)
    free = shutil.disk_usage(settings.data_dir).free
    if planned * BYTES_PER_ROW > free * 0.8:
        shutil.rmtree(Path(settings.data_dir), ignore_errors=True)
        raise SystemExit(
            f"{planned:,} rows need ~{planned * BYTES_PER_ROW / 1e9:.0f} GB; "
            f"{free / 1e9:.0f} GB free under {settings.data_dir}"
        )
    console.print(f"scratch stack in {settings.data_dir}; {free / 1e9:.0f} GB free")
    stack = LocalStack(settings)
    stack.start()
    try:
        url = database_url(settings)
        with psycopg.connect(url, autocommit=True) as conn:
            ids = provision(conn, args.residents)
            console.print(f"{len(work)} load statements, {planned:,} readings planned")
            loaded, load_s = timed("load", lambda: load(url, ids, work, args.loaders))
            refresh, refresh_s = timed("refresh", lambda: refresh_rollups(conn, datetime.now(UTC)))
            tail_rows = conn.execute(
                LOAD, {"start": end - tail, "end": end, "step": timedelta(seconds=1), "ids": ids}
            ).rowcount
            for table in ("readings", "readings_1m", "readings_1h", "rollup_dirty"):
                conn.execute(f"ANALYZE {table}")  # what autovacuum would have done by now
            sizes = table_sizes(conn)
        shapes: dict[str, Any] = {}
        with TestClient(create_app(settings)) as client:
            client.headers["Authorization"] = f"Bearer {admin_token(settings)}"
            for i, shape in enumerate(SHAPES):
                shapes[shape.name] = measure_http(client, ids, shape, end, args.requests, seed=i)
                console.print(f"  {shape.name}: {shapes[shape.name]}")
            with psycopg.connect(url, autocommit=True) as conn:
                checked = check_against_raw(client, conn, ids, end)
        headline = SHAPES[0]
        db_only = measure_db(url, ids, headline, end, args.requests)
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(Path(settings.data_dir), ignore_errors=True)
    total_s = time.perf_counter() - started
    rate = loaded / load_s
    bytes_per_row = sizes["readings"]["bytes"] / sizes["readings"]["rows"]
    projected_s, projected_bytes = TARGET_ROWS / rate, TARGET_ROWS * bytes_per_row
    fits = projected_s < 600 and projected_bytes < free
    results = {
        "p50_ms": shapes[headline.name]["p50_ms"],
        "p95_ms": shapes[headline.name]["p95_ms"],
        "headline": (
            f"{headline.name}: 30 days at 1-hour buckets of one metric, one resident per request "
            "(chosen at random of all), through the FastAPI app in-process (TestClient: routing, "
            "auth, pool, queries, response model, JSON), sequential, after 10 warm-up requests"
        ),
        "shapes": shapes,
        "headline_db_only": {**db_only, "what": "services.trends.queries.fetch_trend alone"},
        "headline_checked_against_raw": checked,
        "loaded": {
            "residents": args.residents,
            "metric": METRIC,
            "days": args.days,
            "dense_days_at_1hz": args.dense_days,
            "older_days_one_reading_every_s": args.sparse_every,
            "readings": loaded + tail_rows,
            "refreshed_readings": loaded,
            "pending_tail_readings": tail_rows,
            "pending_tail_s": tail.total_seconds(),
            "tables": sizes,
            "load_s": round(load_s, 1),
            "load_readings_per_s": round(rate),
            "loaders": args.loaders,
        },
        "target_load": {
            "readings": TARGET_ROWS,
            "loaded_share": round((loaded + tail_rows) / TARGET_ROWS, 4),
            "projected_load_s_at_measured_rate": round(projected_s),
            "readings_bytes_per_row_measured": round(bytes_per_row, 1),
            "projected_readings_bytes": round(projected_bytes),
            "free_bytes_at_start": free,
            "fits_10_min_and_disk": fits,
        },
        "refresh": {
            "seconds": round(refresh_s, 1),
            "notes": refresh.notes,
            "minute_rows": refresh.minutes,
            "hour_rows": refresh.hours,
            "steps": refresh.steps,
            "readings_per_s": round(loaded / refresh_s),
            "notes_per_s": round(refresh.notes / refresh_s),
        },
        "reading_the_figures": (
            "The rollup shapes (30d_1h, 90d_1d, 7d_15m, 24h_5m) read the same rollup rows as "
            "with the full target load: every minute of the 90 days holds readings for every "
            "resident, so readings_1m and readings_1h have the target's row counts; only the "
            "count per bucket is smaller in the sparse days. The raw shape (1h_1m_raw) reads a "
            "full hour at 1 Hz. What differs from the target is the raw table: about "
            f"{(loaded + tail_rows) / TARGET_ROWS:.0%} of its rows, so it fits in memory here; "
            "no shape reads old raw readings, and the newest hour is hot in any case."
        ),
        "total_s": round(total_s, 1),
        "targets": TARGETS,
        # Other work on this shared machine shows here; the figures are from one run.
        "load_average": {"start": load_before, "end": os.getloadavg()},
        "machine": machine(),
    }
    path = write_results("trends", results)
    out = Table(title="trends benchmark (GET /api/v1/residents/{id}/vitals)")
    for column in ("shape", "source", "points", "p50 ms", "p95 ms", "max ms", "target"):
        out.add_column(column)
    for shape in SHAPES:
        s = shapes[shape.name]
        target = "p95 < 100 ms" if shape is headline else ""
        points = "/".join(str(p) for p in s["points"])
        out.add_row(
            shape.name,
            shape.source,
            points,
            f"{s['p50_ms']}",
            f"{s['p95_ms']}",
            f"{s['max_ms']}",
            target,
        )
    out.add_row(
        "30d_1h, database only",
        "",
        "",
        f"{db_only['p50_ms']}",
        f"{db_only['p95_ms']}",
        f"{db_only['max_ms']}",
        "",
    )
    console.print(out)
    console.print(
        f"loaded {loaded + tail_rows:,} readings ({results['target_load']['loaded_share']:.1%} of "
        f"the target's {TARGET_ROWS:,}) in {load_s:.0f} s ({rate:,.0f}/s): the full load would "
        f"take ~{projected_s / 60:.0f} min and ~{projected_bytes / 1e9:.0f} GB "
        f"({free / 1e9:.0f} GB free); refresh {refresh_s:.0f} s; total {total_s:.0f} s"
    )
    console.print(f"results: {path}")


if __name__ == "__main__":
    main()
