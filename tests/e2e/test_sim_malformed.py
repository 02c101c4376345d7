"""The simulator against the real broker and ingest worker: each malformed kind it can send
becomes a dead letter with the documented reason (and the good readings around it are stored),
and duplicates, out-of-order delivery and a Wi-Fi backlog are each stored exactly once."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from device_sim.devices import DeviceKind, SimDevice
from device_sim.faults import DROP_S, Faults
from device_sim.malformed import EXPECTED_REASON, MALFORMED_KINDS, MalformedKind
from device_sim.run import run_simulation
from device_sim.simulation import build
from device_sim.ward import WardOptions
from services.settings import Settings
from tests.support import Conn, count, wait_for

pytestmark = pytest.mark.usefixtures("ingest_worker")

QUIET = WardOptions(routine=False)  # no wash, no activities: readings every tick


def provision(api: TestClient, ward: str, kind: DeviceKind = "wearable") -> SimDevice:
    device_id = f"sim-{uuid.uuid4().hex[:12]}"
    response = api.post(
        "/api/v1/devices", json={"device_id": device_id, "site_id": ward, "kind": kind}
    )
    assert response.status_code == 201, response.text
    return SimDevice(device_id, ward, kind, response.json()["mqtt"]["password"], device_id)


def simulate(
    settings: Settings,
    devices: list[SimDevice],
    start: datetime,
    duration_s: float,
    faults: Faults,
    labels: Path,
) -> int:
    summary = run_simulation(
        devices,
        host="127.0.0.1",
        port=settings.mqtt_port,
        rate_hz=1.0,
        duration_s=duration_s,
        seed=3,
        stop=threading.Event(),
        speed=float("inf"),
        start=start,
        progress=False,
        ward=QUIET,
        faults=faults,
        labels_path=labels,
    )
    assert summary.messages_unacked == summary.messages_rejected == 0
    return summary.messages_published


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformed_kind_is_dead_lettered_for_its_documented_reason(
    kind: MalformedKind, settings: Settings, api: TestClient, ward: str, db: Conn, tmp_path: Path
) -> None:
    device = provision(api, ward)
    start = datetime.now(UTC) - timedelta(seconds=10)
    labels_path = tmp_path / "labels.jsonl"
    faults = Faults(malformed_rate=1.0, malformed_kinds=(kind,))
    simulate(settings, [device], start, 8.0, faults, labels_path)
    labels = [json.loads(line) for line in labels_path.read_text().splitlines()[1:]]
    malformed = [r for r in labels if r["kind"] == "malformed"]
    assert len(malformed) == 8  # one after each reading
    dead = wait_for(
        lambda: db.execute(
            "SELECT reason, topic FROM dead_letters WHERE device_id = %s ORDER BY id",
            [device.device_id],
        ).fetchall(),
        until=lambda rows: len(rows) >= len(malformed),
        what=f"{kind}: dead letters",
    )
    assert sorted(dead) == sorted((EXPECTED_REASON[kind], r["topic"]) for r in malformed)
    # Nothing else was dead-lettered, and the readings they followed are all stored.
    stored = wait_for(
        lambda: count(
            db,
            "SELECT count(DISTINCT ts) FROM readings WHERE device_id = %s AND metric = 'hr'",
            device.device_id,
        ),
        until=lambda n: n == 8,
        what=f"{kind}: the good readings",
    )
    assert stored == 8
    assert (
        count(db, "SELECT count(*) FROM dead_letters WHERE device_id = %s", device.device_id) == 8
    )


def stored_times(db: Conn, device_id: str, metric: str) -> list[int]:
    rows = db.execute(
        "SELECT (extract(epoch FROM ts) * 1000)::bigint FROM readings"
        " WHERE device_id = %s AND metric = %s ORDER BY ts",
        [device_id, metric],
    ).fetchall()
    return [int(r[0]) for r in rows]


def wait_stored(db: Conn, device_id: str, metric: str, n: int) -> list[int]:
    return wait_for(
        lambda: stored_times(db, device_id, metric),
        until=lambda rows: len(rows) >= n,
        what=f"{n} {metric} readings of {device_id}",
    )


def test_duplicates_late_messages_and_a_wifi_backlog_are_each_stored_once(
    settings: Settings, api: TestClient, ward: str, db: Conn, tmp_path: Path
) -> None:
    wearable, bed = provision(api, ward), provision(api, ward, "bed_sensor")
    # One resident wearing the one and lying on the other.
    bed = SimDevice(bed.device_id, ward, "bed_sensor", bed.password, wearable.resident_key)
    start = datetime.now(UTC) - timedelta(minutes=20)
    faults = Faults(wifi_drops_per_day=400.0, duplicate_rate=0.05, reorder_rate=0.05)
    simulate(settings, [wearable, bed], start, 1200.0, faults, tmp_path / "labels.jsonl")
    # What was sent, from the same pure simulation: each reading's time, however often and
    # in whatever order it went.
    sim = build([wearable, bed], seed=3, start=start, duration_s=1200.0, ward=QUIET, faults=faults)
    sent = list(sim.deliveries())
    assert {"backfill", "duplicate", "late"} <= {d.kind for d in sent}
    for device, stream, metric in ((wearable, "vitals", "hr"), (bed, "bed", "movement")):
        times = sorted(
            {
                json.loads(d.message.payload)["ts"]
                for d in sent
                if d.device_id == device.device_id and d.message.stream == stream
            }
        )
        # The device ids are random, so is the drop schedule: only a drop still under way at
        # the end keeps readings back, and a drop lasts at most DROP_S[1].
        assert len(times) >= 1200 - DROP_S[1]
        stored = wait_stored(db, device.device_id, metric, len(times))
        assert stored == times  # each once, whatever the duplicates and the order
    dead = count(
        db,
        "SELECT count(*) FROM dead_letters WHERE device_id IN (%s, %s)",
        wearable.device_id,
        bed.device_id,
    )
    assert dead == 0
