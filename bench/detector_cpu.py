"""The detector's CPU per message, offline: its live path without broker or database.

`bench/load.py` measures the whole stack; when the detector is the part that gives, this says
where its time goes, on any machine (it counts the process's CPU time, not wall time, so a busy
machine slows it less). It drives the real `Detector._process` with the load test's traffic
(per resident and second: a vitals message from a wearable, a bed message from a bed sensor, a
status a minute), in batches as the detector collects them (a fifth of a second each), a tick
each second and a snapshot every five (encoded as the database would be given it). Only the
I/O is left out: device assignments and profiles come from memory, candidates and snapshots
are encoded and dropped, nothing is acknowledged.

    python -m bench.detector_cpu [--residents 1000] [--seconds 120] [--profile]

It runs twice: with the interpreter's default garbage-collector thresholds, then with the
detector's own (`services.detector.service.tune_gc`), and reports both.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from unittest import mock

from bench.alert_stream import normal_vitals
from bench.common import write_results
from bench.load_plan import STATUS_EVERY_S
from device_sim.devices import SimDevice, synthetic_ward
from device_sim.messages import bed_message, status_message, vitals_message
from device_sim.physiology import BedReading
from device_sim.status import StatusReading
from ingest.pipeline import Inbound
from rules.engine import RulesConfig
from rules.types import ResidentProfile
from services.detector import service
from services.detector.config import DetectorConfig, tune_gc
from services.detector.residents import (
    Assignment,
    Attribution,
    BulkCache,
    Placements,
    ResidentRecord,
)
from services.detector.service import Detector
from services.detector.snapshot_writer import Outcome, Snapshot, SnapshotWriter
from services.detector.snapshots import encode_snapshots
from services.settings import MqttEndpoint

SITE = "demo"
T = TypeVar("T")
BATCHES_PER_S = 5  # the detector's flush interval is 0.2 s
SNAPSHOT_EVERY_S = 5  # its default snapshot interval


def traffic(devices: list[SimDevice], start: datetime, seconds: int) -> Iterator[list[Inbound]]:
    """The load test's messages, second by second, as the detector's batches."""
    status = StatusReading(battery=80, online=True, rssi=-60, fw="bench")
    for k in range(seconds):
        second: list[Inbound] = []
        for index, device in enumerate(devices):
            resident = index // 2
            ts = start + timedelta(seconds=k, milliseconds=(index * 7) % 1000)
            ts_ms = int(ts.timestamp() * 1000)
            if device.kind == "wearable":
                message = vitals_message(device, normal_vitals(resident, k), seq=k, ts_ms=ts_ms)
            else:
                bed: BedReading = {"occupied": True, "movement": 0.1, "hr": 64 + k % 5, "rr": 15}
                message = bed_message(device, bed, seq=k, ts_ms=ts_ms)
            arrived = ts + timedelta(milliseconds=50)
            second.append(Inbound(message.topic, message.payload, arrived))
            if (k + resident) % STATUS_EVERY_S == 0:
                message = status_message(device, status, seq=k, ts_ms=ts_ms)
                second.append(Inbound(message.topic, message.payload, arrived))
        size = -(-len(second) // BATCHES_PER_S)
        for i in range(0, len(second), size):
            yield second[i : i + size]


def offline_detector(devices: list[SimDevice], start: datetime) -> Detector:
    """A detector whose database is a few dictionaries."""
    endpoint = MqttEndpoint("127.0.0.1", 1, "bench", "unused")
    detector = Detector(DetectorConfig(), mqtt_endpoint=endpoint, database_url="unused")
    records: dict[int, ResidentRecord | None] = {}
    assignments: dict[str, list[Assignment]] = {}
    # Residents without overrides of their own share their site's configuration object, as
    # the loader gives it (services/resident_rules.py); the rules cache what they derive by it.
    config = RulesConfig()
    for index, device in enumerate(devices):
        resident_id = index // 2 + 1
        assignments[device.device_id] = [Assignment(resident_id, start - timedelta(days=1), None)]
        profile = ResidentProfile(resident_id, SITE, f"unit-{resident_id % 20}")
        records[resident_id] = ResidentRecord(profile, config)
    clock = time.monotonic
    detector.attribution = Attribution(lambda _d: [], lambda: assignments, clock)
    detector.placements = Placements(lambda _d: None, lambda: {}, clock)
    detector.profiles = BulkCache(lambda _r: None, lambda: records, clock, refresh_s=60.0)
    detector._db = _at_once  # type: ignore[method-assign]
    detector._manual_observations = lambda touched, now: []  # type: ignore[method-assign]
    detector._symptom_observations = lambda touched, now: []  # type: ignore[method-assign]
    detector._staff_attendance = lambda touched: None  # type: ignore[method-assign]
    detector.consumer.ack = lambda items: None  # type: ignore[method-assign]
    detector.conn = mock.MagicMock()  # only its transaction() is entered
    detector.writer = EncodeOnly(detector._connect, detector.consumer, detector.stopping)
    return detector


class EncodeOnly(SnapshotWriter):
    """Encodes each snapshot as the database would be given it, inline, and drops it (in the
    live detector this runs in its writer thread: CPU all the same)."""

    def _save(self, snapshot: Snapshot) -> Outcome:
        for _subject, doc in encode_snapshots(snapshot.states):
            json.dumps(doc.obj)  # what psycopg's Jsonb sends
        return "saved"


def _at_once(action: Callable[[], T], what: str, *, reconnect: bool = True) -> T:
    return action()  # no database to wait for


def run(
    residents: int, seconds: int, *, profile: bool, tuned: bool = True, sort: str = "tottime"
) -> dict[str, Any]:
    start = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
    devices = synthetic_ward(residents, SITE)
    batches = list(traffic(devices, start, seconds))
    messages = sum(len(b) for b in batches)
    detector = offline_detector(devices, start)
    if tuned:
        tune_gc()  # as `carewatch detect` does
    now = start
    detector.clock = lambda: now
    profiler = cProfile.Profile() if profile else None
    with mock.patch.object(service, "write_with_case_files", lambda c, cands, f, n: len(cands)):
        began = time.process_time()
        if profiler:
            profiler.enable()
        for number, batch in enumerate(batches):
            second, part = divmod(number, BATCHES_PER_S)
            now = start + timedelta(seconds=second, milliseconds=200 * part + 250)
            last_of_snapshot = part == BATCHES_PER_S - 1 and second % SNAPSHOT_EVERY_S == 4
            detector.snapshot_due = float("-inf") if last_of_snapshot else float("inf")
            detector._process(batch, tick=part == 0)
        if profiler:
            profiler.disable()
        cpu_s = time.process_time() - began
    if profiler:
        pstats.Stats(profiler).sort_stats(sort).print_stats(40)
    return {
        "residents": residents,
        "seconds_of_traffic": seconds,
        "messages": messages,
        "cpu_s": round(cpu_s, 2),
        "messages_per_cpu_s": round(messages / cpu_s),
        # The share of one core the detector needs for this traffic in real time.
        "cores_at_real_time": round(cpu_s / seconds, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    args = parser.parse_args()
    # The interpreter's default collector first (tuning is process-wide and stays).
    default = run(args.residents, args.seconds, profile=False, tuned=False)
    tuned = run(args.residents, args.seconds, profile=args.profile)
    result = {**tuned, "cores_with_default_gc": default["cores_at_real_time"]}
    print(json.dumps(result, indent=2))
    print(f"results: {write_results('detector_cpu', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
