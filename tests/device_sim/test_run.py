"""The run loop, through in-memory publishers: schedule, pacing, seq/ts, stop and failures."""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from device_sim.devices import SimDevice
from device_sim.errors import AckTimeout, BrokerRefused
from device_sim.faults import Faults
from device_sim.messages import Message
from device_sim.physiology import DEFAULT_TZ
from device_sim.run import delivery_line, run_simulation, write_simulation
from device_sim.run_summary import SimSummary
from device_sim.scenarios import spec_from_dict
from device_sim.simulation import build

THREE_AM = datetime(2025, 3, 1, 3, 0, tzinfo=DEFAULT_TZ)


def ward(residents: int) -> list[SimDevice]:
    devices = []
    for i in range(1, residents + 1):
        devices.append(SimDevice(f"w-{i:03d}", "site-a", "wearable", f"pw-w{i}", f"res-{i}"))
        devices.append(SimDevice(f"b-{i:03d}", "site-a", "bed_sensor", f"pw-b{i}", f"res-{i}"))
    return devices


class FakePublisher:
    """Records what would have gone to the broker, with the monotonic time it was handed over."""

    def __init__(self, device: SimDevice) -> None:
        self.device = device
        self.sent: list[tuple[float, Message]] = []
        self.closed = False
        self.rejected = 0
        self.reconnect_after: int | None = None  # report a reconnection after this many sends
        self.fail_after: int | None = None

    def publish(self, message: Message) -> None:
        assert not self.closed
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise AckTimeout("broker stopped acknowledging")
        self.sent.append((time.monotonic(), message))

    def close(self, timeout_s: float = 10.0, *, announce_offline: bool = True) -> int:
        self.closed = True
        return 0

    def take_reconnected(self) -> bool:
        if self.reconnect_after is not None and len(self.sent) >= self.reconnect_after:
            self.reconnect_after = None
            return True
        return False


class Fakes:
    def __init__(self, setup: Callable[[FakePublisher], None] | None = None) -> None:
        self.by_device: dict[str, FakePublisher] = {}
        self.setup = setup

    def __call__(self, device: SimDevice) -> FakePublisher:
        publisher = FakePublisher(device)
        if self.setup is not None:
            self.setup(publisher)
        self.by_device[device.device_id] = publisher
        return publisher

    def bodies(self, device_id: str) -> list[tuple[str, dict[str, Any]]]:
        return [(m.stream, json.loads(m.payload)) for _, m in self.by_device[device_id].sent]


def simulate(devices: list[SimDevice], fakes: Fakes, **kwargs: Any) -> SimSummary:
    options: dict[str, Any] = {
        "host": "unused",
        "port": 1,
        "rate_hz": 2.0,
        "duration_s": 150.0,
        "seed": 1,
        "stop": threading.Event(),
        "speed": 1e5,
        "start": THREE_AM,
        "progress": False,
    }
    options.update(kwargs)
    return run_simulation(devices, connect=fakes, **options)


def test_each_device_publishes_its_stream_every_tick_and_status_every_minute() -> None:
    fakes = Fakes()
    summary = simulate(ward(2), fakes)
    # 150 s at 2 Hz: ticks at 0.0 .. 149.5; status at 0, 60 and 120 s.
    assert summary.by_stream == {"vitals": 600, "bed": 600, "status": 12}
    assert summary.messages_published == 1212
    assert summary.messages_rejected == summary.messages_unacked == 0
    assert summary.elapsed_s > 0
    assert all(p.closed for p in fakes.by_device.values())
    for device_id, publisher in fakes.by_device.items():
        streams = [m.stream for _, m in publisher.sent]
        assert streams[0] == "status"  # first of all
        assert set(streams) == {"status", "bed" if device_id.startswith("b") else "vitals"}
        for _, message in publisher.sent:
            assert message.topic == f"carewatch/v1/site-a/{device_id}/{message.stream}"
            assert message.retain is (message.stream == "status")


def test_seq_increases_per_device_and_ts_follows_simulated_time() -> None:
    fakes = Fakes()
    simulate(ward(1), fakes)
    start_ms = int(THREE_AM.timestamp() * 1000)
    for device_id in ("w-001", "b-001"):
        bodies = fakes.bodies(device_id)
        assert [b["seq"] for _, b in bodies] == list(range(1, len(bodies) + 1))
        data_ts = [b["ts"] for stream, b in bodies if stream != "status"]
        assert data_ts == [start_ms + 500 * k for k in range(300)]
        status_ts = [b["ts"] for stream, b in bodies if stream == "status"]
        assert status_ts == [start_ms, start_ms + 60_000, start_ms + 120_000]


def test_same_seed_same_messages_and_devices_do_not_disturb_each_other() -> None:
    runs = []
    for seed, residents in ((9, 2), (9, 2), (10, 2), (9, 3)):
        fakes = Fakes()
        simulate(ward(residents), fakes, seed=seed, duration_s=60.0)
        runs.append({d: [m.payload for _, m in p.sent] for d, p in fakes.by_device.items()})
    same, again, other_seed, bigger_ward = runs
    assert same == again
    assert same["w-001"] != other_seed["w-001"]
    # Random streams are keyed by resident and device names, not by position in the list.
    assert all(bigger_ward[d] == same[d] for d in same)


def test_wearable_and_bed_sensor_watch_the_same_resident() -> None:
    fakes = Fakes()
    simulate(ward(3), fakes, duration_s=300.0, rate_hz=0.2)
    for i in range(1, 4):
        vitals = [b for s, b in fakes.bodies(f"w-{i:03d}") if s == "vitals"]
        beds = [b for s, b in fakes.bodies(f"b-{i:03d}") if s == "bed"]
        assert len(vitals) == len(beds) == 60
        both = [(v["hr"], b["hr"]) for v, b in zip(vitals, beds, strict=True) if b["occupied"]]
        assert both, "at 03:00 the resident is in bed"
        assert all(abs(hr_w - hr_b) <= 12 for hr_w, hr_b in both)


def test_paced_by_the_monotonic_clock_without_drift() -> None:
    fakes = Fakes()
    began = time.monotonic()
    simulate(ward(1), fakes, rate_hz=20.0, duration_s=1.0, speed=2.0)
    sent = [at for at, m in fakes.by_device["w-001"].sent if m.stream == "vitals"]
    assert len(sent) == 20
    # Tick k is due k / (rate * speed) seconds after the start, however late earlier ones were.
    lateness = [at - began - k / 40.0 for k, at in enumerate(sent)]
    assert min(lateness) >= -0.001
    assert max(lateness) < 0.25


def test_stop_event_ends_an_open_ended_run_promptly() -> None:
    fakes = Fakes()
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    began = time.monotonic()
    summary = simulate(ward(1), fakes, duration_s=None, speed=1.0, rate_hz=10.0, stop=stop)
    timer.join()
    assert time.monotonic() - began < 1.5
    assert 2 <= summary.by_stream["vitals"] <= 6
    assert all(p.closed for p in fakes.by_device.values())


def test_fast_run_without_start_ends_now_so_no_timestamp_is_in_the_future() -> None:
    fakes = Fakes()
    simulate(ward(1), fakes, start=None, speed=1e4, duration_s=600.0)
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    ts = [b["ts"] for _, b in fakes.bodies("w-001")]
    assert max(ts) <= now_ms
    assert now_ms - 602_000 <= min(ts) <= now_ms - 598_000


def test_a_reconnected_device_republishes_its_status_at_once() -> None:
    def flaky(publisher: FakePublisher) -> None:
        if publisher.device.device_id == "w-001":
            publisher.reconnect_after = 11

    fakes = Fakes(flaky)
    simulate(ward(1), fakes, rate_hz=1.0, duration_s=30.0)
    bodies = fakes.bodies("w-001")
    assert [s for s, _ in bodies].count("status") == 2
    # Stamped as it is sent, with a seq of its own: the readings already produced keep theirs.
    assert bodies[11][0] == "status"
    others = [b["seq"] for _, b in bodies[:11] + bodies[12:]]
    assert bodies[11][1]["seq"] not in others and bodies[11][1]["seq"] > 11
    assert others == list(range(1, len(others) + 1))
    assert {k: v for k, v in bodies[11][1].items() if k not in ("ts", "seq")} == {
        k: v for k, v in bodies[0][1].items() if k not in ("ts", "seq")
    }
    assert [s for s, _ in fakes.bodies("b-001")].count("status") == 1


def test_a_refused_device_fails_the_run_and_closes_the_others() -> None:
    opened: list[FakePublisher] = []

    def connect(device: SimDevice) -> FakePublisher:
        if device.device_id == "b-002":
            raise BrokerRefused("refused b-002", reason="Not authorized")
        publisher = FakePublisher(device)
        opened.append(publisher)
        return publisher

    with pytest.raises(BrokerRefused, match="b-002"):
        run_simulation(
            ward(3),
            host="unused",
            port=1,
            rate_hz=1.0,
            duration_s=10.0,
            seed=1,
            stop=threading.Event(),
            progress=False,
            connect=connect,
        )
    assert len(opened) == 5 and all(p.closed for p in opened)
    assert all(not p.sent for p in opened)


def test_a_broker_that_stops_acknowledging_fails_the_run_and_closes_all() -> None:
    def stalls(publisher: FakePublisher) -> None:
        if publisher.device.device_id == "b-001":
            publisher.fail_after = 5

    fakes = Fakes(stalls)
    with pytest.raises(AckTimeout):
        simulate(ward(2), fakes)
    assert all(p.closed for p in fakes.by_device.values())


def test_progress_bar_run() -> None:
    summary = simulate(ward(1), Fakes(), progress=True, duration_s=30.0)
    assert summary.messages_published == 2 * 60 + 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate_hz": 0.0}, "rate_hz"),
        ({"rate_hz": float("nan")}, "rate_hz"),
        ({"speed": -1.0}, "speed"),
        ({"duration_s": -1.0}, "duration_s"),
        ({"seed": -1}, "seed"),
        ({"start": datetime(2025, 3, 1)}, "timezone-aware"),  # noqa: DTZ001 - naive on purpose
    ],
    ids=["rate-zero", "rate-nan", "speed", "duration", "seed", "naive-start"],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        simulate(ward(1), Fakes(), **kwargs)


def test_devices_must_be_unique_and_present() -> None:
    with pytest.raises(ValueError, match="repeat"):
        simulate(ward(1) * 2, Fakes())
    with pytest.raises(ValueError, match="no devices"):
        simulate([], Fakes())


def test_messages_per_device_are_in_time_order() -> None:
    fakes = Fakes()
    simulate(ward(2), fakes, rate_hz=0.5, duration_s=200.0)
    for device_id in fakes.by_device:
        ts = [b["ts"] for _, b in fakes.bodies(device_id)]
        assert ts == sorted(ts)
    counts: dict[str, int] = defaultdict(int)
    for publisher in fakes.by_device.values():
        for _, message in publisher.sent:
            counts[message.stream] += 1
    assert counts == {"vitals": 200, "bed": 200, "status": 16}


def test_unpaced_with_faults_per_device_order_and_a_summary_that_adds_up(tmp_path: Path) -> None:
    fakes = Fakes()
    faults = Faults(
        wifi_drops_per_day=500, duplicate_rate=0.05, reorder_rate=0.05, malformed_rate=0.05
    )
    labels_path = tmp_path / "labels.jsonl"
    summary = simulate(
        ward(3), fakes, speed=math.inf, duration_s=1800.0, faults=faults, labels_path=labels_path
    )
    sim = build(ward(3), seed=1, start=THREE_AM, duration_s=1800.0, rate_hz=2.0, faults=faults)
    expected = list(sim.deliveries())
    # Published device by device when due, each device's messages in the order produced.
    for device_id, publisher in fakes.by_device.items():
        assert [m for _, m in publisher.sent] == [
            d.message for d in expected if d.device_id == device_id
        ]
    assert summary.messages_published == len(expected)
    assert summary.by_kind == dict(Counter(d.kind for d in expected))
    assert summary.by_stream == dict(Counter(d.message.stream for d in expected))
    assert summary.malformed == dict(Counter(d.detail for d in expected if d.detail))
    assert set(summary.by_kind) == {"data", "backfill", "duplicate", "late", "malformed"}
    lines = labels_path.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["type"] == "run" and header["seed"] == 1 and header["rate_hz"] == 2.0
    assert [json.loads(line) for line in lines[1:]] == sim.labels.records
    assert summary.labels == len(lines) - 1
    text = "\n".join(summary.lines())
    assert "by kind:" in text and "malformed:" in text and "broker rejected: 0" in text


def test_a_scenario_through_the_run_loop(tmp_path: Path) -> None:
    spec = spec_from_dict(
        {
            "name": "loop",
            "start": "2025-03-01T09:00:00+08:00",
            "duration": "20m",
            "residents": [{"key": "a"}, {"key": "b"}],
            "events": [{"at": "5m", "resident": "b", "kind": "sos"}],
        }
    )
    fakes = Fakes()
    summary = simulate(
        ward(2),
        fakes,
        scenario=spec,
        start=None,
        speed=math.inf,
        duration_s=None,
        labels_path=tmp_path / "l.jsonl",
    )
    assert summary.simulated_s <= spec.duration_s
    events = [b for s, b in fakes.bodies("w-002") if s == "event"]
    assert [e["type"] for e in events] == ["sos"]
    labels = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert labels[0]["scenario"] == "loop"
    assert [r["kind"] for r in labels if r["type"] == "event"] == ["sos"]
    # Moved by whole days to end by now: 09:00 local still.
    start = datetime.fromisoformat(labels[0]["start"])
    assert start.astimezone(DEFAULT_TZ).time() == spec.start.time()
    assert start <= datetime.now(UTC) - timedelta(seconds=spec.duration_s)


def test_a_dry_run_writes_the_same_file_every_time(tmp_path: Path) -> None:
    faults = Faults(malformed_rate=0.2, malformed_kinds=("not_utf8", "truncated"))
    paths = []
    for name in ("one", "two"):
        out, labels = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.labels.jsonl"
        summary = write_simulation(
            ward(2),
            out,
            duration_s=600.0,
            seed=5,
            start=THREE_AM,
            faults=faults,
            labels_path=labels,
        )
        paths.append((out, labels))
    (one, one_labels), (two, two_labels) = paths
    assert (
        one.read_bytes() == two.read_bytes() and one_labels.read_bytes() == two_labels.read_bytes()
    )
    lines = [json.loads(x) for x in one.read_text().splitlines()]
    assert len(lines) == summary.messages_published
    sim = build(ward(2), seed=5, start=THREE_AM, duration_s=600.0, faults=faults)
    assert one.read_text().splitlines() == [delivery_line(d, sim.start) for d in sim.deliveries()]
    binary = [x for x in lines if "payload_base64" in x]
    assert binary and all(x["detail"] == "not_utf8" for x in binary)
    assert b"\xff" in base64.b64decode(binary[0]["payload_base64"])
    assert {x["kind"] for x in lines} == {"data", "malformed"}
    with pytest.raises(ValueError, match="duration"):
        write_simulation(ward(1), tmp_path / "x.jsonl", duration_s=None, seed=1, start=THREE_AM)


def test_stopping_early_writes_the_labels_reached(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    summary = simulate(
        ward(1),
        Fakes(),
        stop=stop,
        faults=Faults(malformed_rate=1.0),
        labels_path=tmp_path / "l.jsonl",
    )
    assert summary.messages_published == 0
    assert len((tmp_path / "l.jsonl").read_text().splitlines()) == 1 + summary.labels
