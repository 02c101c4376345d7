"""`carewatch demo backfill`: the demo ward's history, so that a newcomer's first look at a
resident shows a week of trends, not an empty chart.

The demo ward's simulated readings for the last `days` days, decoded by ingest's own codec and
written straight into `readings` by ingest's writer (attributed to residents as live ingest
does), then the trend rollups refreshed. Nothing goes through the broker, so the detector never
sees it and nothing pages. Skipped when the demo ward's devices already have readings: it runs
on `carewatch up`'s first start of a fresh data dir."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from device_sim.cli.demo_ward import ensure_demo_ward
from device_sim.physiology import DEFAULT_TZ
from device_sim.progress import reporter
from device_sim.simulation import build
from ingest.codec import decode
from ingest.writer import Batch, BatchWriter
from services.settings import Settings, database_url
from services.trends.refresh import refresh_rollups

log = logging.getLogger("carewatch.demo")

# A reading every 5 minutes per device: the week's chart is hourly, and a week of the demo
# ward at this rate writes in well under a minute.
RATE_HZ = 1 / 300
SEED = 7  # not the live ward's seed: the history is not a replay of the days to come
STREAMS = frozenset({"vitals", "bed"})  # readings only: no events, so no story to page about
ROWS_PER_WRITE = 20_000


@dataclass(frozen=True, slots=True)
class Backfilled:
    devices: int
    readings: int
    seconds: float


def has_history(conn: psycopg.Connection[tuple[object, ...]], device_ids: list[str]) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM readings WHERE device_id = ANY(%s))", [device_ids]
    ).fetchone()
    return bool(row and row[0])


def backfill(
    settings: Settings, *, residents: int, days: float, now: datetime, progress: bool
) -> Backfilled | None:
    """Write `days` of the demo ward's readings ending at `now`; None if it has history."""
    began = time.monotonic()
    devices = asyncio.run(ensure_demo_ward(settings, residents))
    ids = [d.device_id for d in devices]
    duration_s = days * 86_400
    start = now - timedelta(seconds=duration_s)
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        if has_history(conn, ids):
            return None
        sim = build(devices, seed=SEED, start=start, duration_s=duration_s, rate_hz=RATE_HZ)
        writer = BatchWriter(conn)
        batch, stored, messages = Batch(), 0, 0
        with reporter(progress, duration_s, len(devices), start, DEFAULT_TZ) as report:
            for delivery in sim.deliveries():
                messages += 1
                if delivery.message.stream not in STREAMS:
                    continue
                at = start + timedelta(seconds=delivery.offset_s)
                # Received as it was sent: a week-old reading is not "from the future".
                batch.add(
                    decode(delivery.message.topic, delivery.message.payload, received_at=at), at
                )
                if batch.row_count >= ROWS_PER_WRITE:
                    stored += writer.write(batch).stored["readings"]
                    batch = Batch()
                    report(delivery.offset_s, at, messages)
            stored += writer.write(batch).stored["readings"]
        # The trends of the whole week at once, rather than at the ingest worker's next turn.
        refresh_rollups(conn, datetime.now(now.tzinfo))
    return Backfilled(len(devices), stored, time.monotonic() - began)
