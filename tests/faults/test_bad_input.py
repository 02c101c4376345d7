"""Bad input at scale (issue 7): 100,000 messages through the real broker at QoS 1 to a real
ingest worker, half of them broken in every way the simulator knows (and two the broker only
just lets through). Every good message is stored once, every bad one dead-lettered for its
documented reason, and the worker stays up with its memory bounded. What the broker itself
refuses (`+`/`#` or NUL in a topic, a packet over 1 MiB) never reaches the worker.

A stack of its own (not the session's): the session's ingest worker, if running, would take
the same messages and dead-letter them a second time, and the peak RSS must be this worker's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import paho.mqtt.client as mqtt
import psycopg
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from device_sim.devices import DeviceKind, SimDevice
from device_sim.malformed import EXPECTED_REASON, MALFORMED_KINDS, MalformedKind, malform
from device_sim.messages import Message, Stream, epoch_ms, reading_message
from ingest.writer import DEAD_LETTER_BYTES, DEAD_LETTER_TOPIC_CHARS
from services.api.app import create_app
from services.settings import Settings, admin_token, database_url
from tests.conftest import ServiceProcess, ingest_process
from tests.support import Conn, count, own_stack, wait_for

TOTAL: Final = 100_000
BAD_SHARE: Final = 0.5
SEED: Final = 7
SITE: Final = "soak"
# Two wearables and two bed sensors, each on its own connection and publishing thread.
KINDS: Final[tuple[DeviceKind, ...]] = ("wearable", "wearable", "bed_sensor", "bed_sensor")
WINDOW: Final = 500  # unacknowledged QoS 1 publishes per connection (the broker allows 1,000)

# Broken kinds the simulator does not make: a payload just under the broker's 1 MiB packet
# limit (the worker keeps only its head), and a 60,000-character topic level.
EXTRA_REASON: Final = {"near_1mib": "oversized", "huge_topic": "bad_topic"}
REASONS: Final[dict[str, str]] = {**dict(EXPECTED_REASON.items()), **EXTRA_REASON}
# ~60 KiB each: fewer of them, so the run moves ~200 MB rather than ~800 MB.
HEAVY: Final = {"oversized": 1000, "deep_nesting": 1000, "huge_motion": 1000}
FIXED: Final = {"near_1mib": 30, "huge_topic": 100}
# A specific detail for the kinds whose reason alone would not show the right check fired.
DETAILS: Final = {
    "deep_nesting": re.compile(r"nested too deeply"),
    "huge_motion": re.compile(r"8192 samples per axis"),
    "infinity": re.compile(r"Infinity is not JSON"),
    "nan": re.compile(r"NaN is not JSON"),
    "utf8_surrogate": re.compile(r"not UTF-8"),
    "not_utf8": re.compile(r"not UTF-8"),
}
GOOD_SHARES: Final[dict[str, float]] = {
    "vitals": 0.3,
    "bed": 0.3,
    "motion": 0.15,
    "event": 0.1,
    "status": 0.15,
}
GOOD_STREAMS: Final[dict[str, Stream]] = {
    "vitals": "vitals",
    "bed": "bed",
    "motion": "motion",
    "event": "event",
    "status": "status",
}
# Peak RSS of the worker (VmHWM). Its own limits bound it: the inbox holds at most 64 MiB of
# payloads and topics (WorkerConfig.queue_max_bytes), a batch 8 MiB of them (a few times that
# while decoded, and only briefly: a rejected payload's objects go at once), an oversized
# payload is cut to its 4 KiB head as it arrives, and paho holds one packet (<= 1 MiB) being
# read; plus the interpreter and its libraries (~55 MB). Without those limits the 20,000
# messages the broker may have in flight could hold 20,000 x 64 KiB = 1.3 GB (up to 1 MiB
# each before the oversized cut).
RSS_BOUND_MB: Final = 250
BACKLOG: Final = {"oversized": 1200, "deep_nesting": 1200, "huge_motion": 1200, "near_1mib": 40}
DEADLINE_S: Final = 150.0  # for the worker to take in everything after the last PUBACK


@dataclasses.dataclass(frozen=True, slots=True)
class Planned:
    device: int  # index into the devices
    kind: str  # a stream (good) or a malformed kind (bad)
    message: Message


@dataclasses.dataclass
class Plan:
    messages: list[Planned]
    readings: set[tuple[str, str, int]]  # (device, metric, ts ms)
    motion: set[tuple[str, int]]
    events: set[tuple[str, str, int]]
    statuses: set[tuple[str, int]]
    sent: Counter[str]


# --- the stack -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def soak_settings() -> Iterator[Settings]:
    with own_stack("carewatch-badinput-") as s:
        yield s


@pytest.fixture(scope="module")
def soak_db(soak_settings: Settings) -> Iterator[Conn]:
    with psycopg.connect(database_url(soak_settings), autocommit=True) as conn:
        conn.execute("INSERT INTO sites VALUES (%s, 'Soak site')", [SITE])
        yield conn


@pytest.fixture(scope="module")
def worker(soak_settings: Settings, soak_db: Conn) -> Iterator[ServiceProcess]:
    process = ingest_process(soak_settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def provision(soak_settings: Settings, soak_db: Conn) -> Iterator[Any]:
    """Devices made through the real API (database row and broker account)."""
    with TestClient(create_app(soak_settings)) as api:
        api.headers["Authorization"] = f"Bearer {admin_token(soak_settings)}"

        def make(kind: DeviceKind) -> SimDevice:
            device_id = f"soak-{uuid.uuid4().hex[:10]}"
            response = api.post(
                "/api/v1/devices", json={"device_id": device_id, "site_id": SITE, "kind": kind}
            )
            assert response.status_code == 201, response.text
            password = response.json()["mqtt"]["password"]
            return SimDevice(device_id, SITE, kind, password, device_id)

        yield make


# --- the plan (pure) -----------------------------------------------------------------------


def bad_counts(total_bad: int) -> dict[str, int]:
    """How many of each broken kind: the heavy and extra ones fixed, the rest shared evenly."""
    light = [k for k in MALFORMED_KINDS if k not in HEAVY]
    rest = total_bad - sum(HEAVY.values()) - sum(FIXED.values())
    counts = {**HEAVY, **FIXED}
    for i, kind in enumerate(light):
        counts[kind] = rest // len(light) + (1 if i < rest % len(light) else 0)
    return counts


def plan(devices: list[SimDevice], start: datetime) -> Plan:
    rng = random.Random(SEED)
    bad = bad_counts(round(TOTAL * BAD_SHARE))
    good_total = TOTAL - sum(bad.values())
    good = {s: round(good_total * share) for s, share in GOOD_SHARES.items()}
    good["vitals"] += good_total - sum(good.values())
    kinds: list[str] = [k for k, n in (bad | good).items() for _ in range(n)]
    rng.shuffle(kinds)
    wearables = [i for i, d in enumerate(devices) if d.kind == "wearable"]
    beds = [i for i, d in enumerate(devices) if d.kind == "bed_sensor"]
    clocks = {i: epoch_ms(start) for i in range(len(devices))}
    seqs = dict.fromkeys(range(len(devices)), 0)
    out = Plan([], set(), set(), set(), set(), Counter())
    pools = {"vitals": wearables, "motion": wearables, "bed": beds}
    for kind in kinds:
        good_stream = GOOD_STREAMS.get(kind)
        index = rng.choice(pools.get(kind, wearables + beds))
        device = devices[index]
        clocks[index] += 10  # every message of a device has its own ts
        seqs[index] += 1
        ts, seq = clocks[index], seqs[index]
        # A broken message is a copy of a reading (vitals, bed, motion) made worse.
        stream: Stream
        if good_stream is not None:
            stream = good_stream
        else:
            stream = "bed" if device.kind == "bed_sensor" else rng.choice(("vitals", "motion"))
        message = good_message(device, stream, ts, seq, rng)
        if good_stream is not None:
            expect(out, device.device_id, stream, message, ts)
        else:
            message = broken(kind, message, rng)
        out.messages.append(Planned(index, kind, message))
        out.sent[kind] += 1
    return out


def good_message(
    device: SimDevice, stream: Stream, ts: int, seq: int, rng: random.Random
) -> Message:
    fields: dict[str, object]
    if stream == "vitals":
        fields = {"hr": rng.randint(50, 110), "spo2": rng.randint(90, 100), "temp": 36.6}
    elif stream == "bed":
        fields = {"occupied": True, "hr": rng.randint(50, 90), "rr": 14, "movement": 0.1}
    elif stream == "motion":
        n = 50
        fields = {
            "hz": 50,
            "ax": [round(rng.uniform(-2, 2), 3) for _ in range(n)],
            "ay": [round(rng.uniform(-2, 2), 3) for _ in range(n)],
            "az": [round(rng.uniform(-2, 2), 3) for _ in range(n)],
        }
    elif stream == "event":
        fields = {"type": rng.choice(("wear_on", "zone_exit", "bed_exit")), "confidence": 0.9}
    else:
        fields = {"battery": rng.randint(20, 100), "online": True, "rssi": -60, "fw": "1.0"}
    # Not retained: retained statuses would outlive the test at the broker.
    return dataclasses.replace(
        reading_message(device, stream, fields, seq=seq, ts_ms=ts), retain=False
    )


def expect(out: Plan, device_id: str, stream: Stream, message: Message, ts: int) -> None:
    body = json.loads(message.payload)
    if stream in ("vitals", "bed"):
        for metric in body.keys() - {"ts", "seq"}:
            out.readings.add((device_id, metric, ts))
    elif stream == "motion":
        out.motion.add((device_id, ts))
    elif stream == "event":
        out.events.add((device_id, body["type"], ts))
    else:
        out.statuses.add((device_id, ts))


def broken(kind: str, message: Message, rng: random.Random) -> Message:
    if kind == "near_1mib":
        return dataclasses.replace(message, payload=b"{" + b" " * 1_000_000 + b"}")
    if kind == "huge_topic":
        return dataclasses.replace(message, topic=f"{message.topic}{'x' * 60_000}")
    return malform(cast(MalformedKind, kind), message, rng)


# --- publishing ----------------------------------------------------------------------------


class Publisher:
    """One device's connection: QoS 1 publishes with at most WINDOW unacknowledged."""

    def __init__(self, settings: Settings, device: SimDevice) -> None:
        self.slots = threading.Semaphore(WINDOW)
        self.reasons: Counter[str] = Counter()
        self.failure: str | None = None
        connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=device.device_id, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(device.device_id, device.password)
        self.client.max_inflight_messages_set(WINDOW)
        self.client.on_connect = lambda *_args: connected.set()
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", settings.mqtt_port)
        self.client.loop_start()
        assert connected.wait(10), f"{device.device_id} did not connect"

    def _on_publish(self, _c: Any, _u: Any, _mid: int, reason: ReasonCode, _p: Any) -> None:
        self.reasons[str(reason)] += 1
        self.slots.release()

    def send(self, messages: list[Message]) -> None:
        try:
            for message in messages:
                if not self.slots.acquire(timeout=30):
                    raise AssertionError("no PUBACK for 30 s")
                self.client.publish(message.topic, message.payload, qos=1)
            for _ in range(WINDOW):  # all acknowledged
                if not self.slots.acquire(timeout=30):
                    raise AssertionError("no PUBACK for 30 s")
        except AssertionError as exc:
            self.failure = str(exc)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class PeakRss:
    """Samples a process's VmRSS every 0.1 s; VmHWM (the kernel's own peak) at the end."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def read(self, field: str) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
        raise AssertionError(f"no {field} for {self.pid}")

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak_kb = max(self.peak_kb, self.read("VmRSS"))

    def finish(self) -> tuple[int, int]:
        self.stop.set()
        self.thread.join(5)
        return self.peak_kb // 1024, self.read("VmHWM") // 1024


def received(worker: ServiceProcess) -> float:
    for line in worker.metrics().splitlines():
        if line.startswith("carewatch_ingest_messages_received_total "):
            return float(line.split()[1])
    return -1.0


# --- the soak ------------------------------------------------------------------------------


def test_100k_mixed_messages_good_stored_once_bad_dead_lettered_memory_bounded(
    soak_settings: Settings, soak_db: Conn, worker: ServiceProcess, provision: Any
) -> None:
    devices = [provision(kind) for kind in KINDS]
    ids = [d.device_id for d in devices]
    start = datetime.now(UTC) - timedelta(hours=2)
    the_plan = plan(devices, start)
    assert len(the_plan.messages) == TOTAL
    before = received(worker)
    rss = PeakRss(worker.child.pid)
    baseline_mb = rss.read("VmRSS") // 1024

    began = time.monotonic()
    publishers = [Publisher(soak_settings, d) for d in devices]
    threads = [
        threading.Thread(
            target=p.send, args=([m.message for m in the_plan.messages if m.device == i],)
        )
        for i, p in enumerate(publishers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S)
    published_s = time.monotonic() - began
    for p in publishers:
        p.close()
    assert [p.failure for p in publishers] == [None] * len(publishers)
    acks = sum((p.reasons for p in publishers), Counter[str]())
    assert acks == Counter({"Success": TOTAL}), acks  # the broker took every one

    wait_for(
        lambda: received(worker) - before,
        until=lambda n: n >= TOTAL,
        timeout=DEADLINE_S,
        what="the worker to take in every message",
    )
    taken_s = time.monotonic() - began
    peak_mb, hwm_mb = rss.finish()
    assert worker.child.alive(), worker.child.log_tail()

    stored = stored_keys(soak_db, ids)
    dead: dict[str, int] = dict(
        soak_db.execute(
            "SELECT reason, count(*) FROM dead_letters WHERE device_id = ANY(%s) GROUP BY 1",
            [ids],
        ).fetchall()
    )
    expected_dead = Counter[str]()
    for kind, n in the_plan.sent.items():
        if kind not in GOOD_SHARES:
            expected_dead[REASONS[kind]] += n
    print(f"\nsent {TOTAL:,} messages from {len(devices)} devices in {published_s:.1f} s;")
    print(f"the worker took them all in after {taken_s:.1f} s")
    for kind, n in sorted(the_plan.sent.items()):
        print(f"  sent {kind:<17} {n:>6,}  -> {REASONS.get(kind, 'stored')}")
    print(f"  stored: readings {len(stored['readings']):,} (of {len(the_plan.readings):,}),")
    print(f"    motion {len(stored['motion']):,}, events {len(stored['events']):,}, ")
    print(f"    statuses {len(stored['statuses']):,}")
    for reason, n in sorted(dead.items()):
        print(f"  dead-lettered {reason:<15} {n:>6,} (sent {expected_dead[reason]:,})")
    print(f"  worker RSS: {baseline_mb} MB at the start, peak {peak_mb} MB sampled,")
    print(f"    VmHWM {hwm_mb} MB (bound {RSS_BOUND_MB} MB)")

    # Every good message stored, exactly once (the keys are unique: count == set).
    assert stored["readings"] == the_plan.readings
    assert stored["motion"] == the_plan.motion
    assert stored["events"] == the_plan.events
    assert stored["statuses"] == the_plan.statuses
    assert count(soak_db, "SELECT count(*) FROM readings") == len(the_plan.readings)
    # Every bad one dead-lettered, for its reason; nothing else, and nothing unattributed.
    assert dead == dict(expected_dead)
    assert count(soak_db, "SELECT count(*) FROM dead_letters WHERE device_id IS NULL") == 0
    check_details(soak_db, ids, the_plan.sent)
    assert hwm_mb < RSS_BOUND_MB


def test_a_backlog_of_large_bad_payloads_drains_within_the_memory_bound(
    soak_settings: Settings, soak_db: Conn, worker: ServiceProcess, provision: Any
) -> None:
    """The worst case for memory: the worker was away, and on its return the broker sends as
    many as it may (Receive Maximum 20,000) of ~64 KiB payloads at once."""
    devices = [provision("wearable"), provision("bed_sensor")]
    ids = [d.device_id for d in devices]
    rng = random.Random(SEED)
    ts = epoch_ms(datetime.now(UTC) - timedelta(hours=1))
    per_device: list[list[Message]] = [[], []]
    for i, kind in enumerate(k for k, n in BACKLOG.items() for _ in range(n)):
        device = devices[i % 2]
        stream: Stream = "vitals" if device.kind == "wearable" else "bed"
        source = good_message(device, stream, ts + i, i, rng)
        per_device[i % 2].append(broken(kind, source, rng))
    megabytes = sum(len(m.payload) for ms in per_device for m in ms) / 2**20

    worker.stop()  # its session stays at the broker, which queues the backlog for it
    publishers = [Publisher(soak_settings, d) for d in devices]
    for p, messages in zip(publishers, per_device, strict=True):
        p.send(messages)
        p.close()
    assert [p.failure for p in publishers] == [None, None]
    began = time.monotonic()
    worker.start()
    rss = PeakRss(worker.child.pid)
    total = sum(BACKLOG.values())
    wait_for(
        lambda: received(worker),
        until=lambda n: n >= total,
        timeout=DEADLINE_S,
        what="the worker to drain the backlog",
    )
    drained_s = time.monotonic() - began
    peak_mb, hwm_mb = rss.finish()
    dead: dict[str, int] = dict(
        soak_db.execute(
            "SELECT reason, count(*) FROM dead_letters WHERE device_id = ANY(%s) GROUP BY 1",
            [ids],
        ).fetchall()
    )
    print(f"\nbacklog of {total:,} messages ({megabytes:.0f} MB) drained in {drained_s:.1f} s")
    print(f"  dead-lettered: {dead}")
    print(f"  worker RSS: peak {peak_mb} MB sampled, VmHWM {hwm_mb} MB (bound {RSS_BOUND_MB} MB)")
    expected = Counter[str]()
    for kind, n in BACKLOG.items():
        expected[REASONS[kind]] += n
    assert dead == dict(expected)
    assert worker.child.alive(), worker.child.log_tail()
    assert hwm_mb < RSS_BOUND_MB


def stored_keys(db: Conn, ids: list[str]) -> dict[str, set[Any]]:
    ms = "(extract(epoch FROM ts) * 1000)::bigint"
    queries = {
        "readings": f"SELECT device_id, metric, {ms} FROM readings WHERE device_id = ANY(%s)",
        "motion": f"SELECT device_id, {ms} FROM motion_windows WHERE device_id = ANY(%s)",
        "events": f"SELECT device_id, type, {ms} FROM device_events WHERE device_id = ANY(%s)",
        "statuses": f"SELECT device_id, {ms} FROM device_status WHERE device_id = ANY(%s)",
    }
    keys: dict[str, set[Any]] = {}
    for name, sql in queries.items():
        rows = db.execute(sql.encode(), [ids]).fetchall()
        keys[name] = {tuple(row) for row in rows}
        assert len(keys[name]) == len(rows)
    return keys


def check_details(db: Conn, ids: list[str], sent: Counter[str]) -> None:
    rows = db.execute(
        "SELECT reason, detail, length(topic), length(payload), payload_size FROM dead_letters"
        " WHERE device_id = ANY(%s)",
        [ids],
    ).fetchall()
    for kind, pattern in DETAILS.items():
        matching = sum(1 for r in rows if r[0] == REASONS[kind] and pattern.search(r[1]))
        if kind == "not_utf8":  # the two UTF-8 kinds share their detail's start
            assert matching == sent["not_utf8"] + sent["utf8_surrogate"], kind
        elif kind != "utf8_surrogate":
            assert matching == sent[kind], (kind, matching)
    # What a dead letter keeps is bounded whatever came in.
    assert max(r[2] for r in rows) == DEAD_LETTER_TOPIC_CHARS
    assert max(r[3] for r in rows) == DEAD_LETTER_BYTES
    near_1mib = [r for r in rows if r[4] == 1_000_002]
    assert len(near_1mib) == sent["near_1mib"]
    assert {r[3] for r in near_1mib} == {DEAD_LETTER_BYTES}


# --- what the broker refuses ----------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def _packet(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _varint(len(body)) + body


def raw_publish(port: int, device: SimDevice, topic: bytes, payload: bytes) -> list[int]:
    """CONNECT as the device (MQTT 5), PUBLISH at QoS 1 bypassing the client library's own
    checks, and return the types of the packets the broker sent until it closed the socket."""
    connect = (
        _string(b"MQTT")
        + bytes([5, 0xC2])  # v5; username, password, clean start
        + struct.pack("!H", 30)
        + _varint(0)
        + _string(device.device_id.encode())  # the only client id its account may use
        + _string(device.device_id.encode())
        + _string(device.password.encode())
    )
    publish = _string(topic) + struct.pack("!H", 1) + _varint(0) + payload
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_packet(0x10, connect))
        head = _recv_exactly(sock, 2)  # CONNACK: its properties fit in one length byte
        connack = _recv_exactly(sock, head[1])
        assert head[0] == 0x20 and connack[1] == 0, connack  # accepted
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            # The broker may close while the 1 MiB is still going out: refused all the same.
            sock.sendall(_packet(0x32, publish))
        after = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):  # until the broker closes (or the timeout)
                after += chunk
    return _packet_types(after)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the broker closed the connection"
        data += chunk
    return data


def _packet_types(data: bytes) -> list[int]:
    types = []
    while data:
        types.append(data[0] & 0xF0)
        length, shift, i = 0, 0, 1
        while True:
            length |= (data[i] & 0x7F) << shift
            shift, i = shift + 7, i + 1
            if not data[i - 1] & 0x80:
                break
        data = data[i + length :]
    return types


REFUSED = [
    (b"carewatch/v1/soak/{device}/+", b'{"hr": 72}'),
    (b"carewatch/v1/soak/{device}/#", b'{"hr": 72}'),
    (b"carewatch/v1/soak/{device}/vit+als", b'{"hr": 72}'),
    (b"carewatch/v1/soak/{device}/vitals\x00", b'{"hr": 72}'),
    (b"carewatch/v1/soak/{device}/vitals", b" " * (1 << 20)),
]


@pytest.mark.parametrize(
    ("topic", "payload"),
    REFUSED,
    ids=["plus-level", "hash-level", "plus-inside", "nul", "over-1mib"],
)
def test_what_the_broker_refuses_disconnects_the_device_and_never_reaches_the_worker(
    topic: bytes,
    payload: bytes,
    soak_settings: Settings,
    soak_db: Conn,
    worker: ServiceProcess,
    provision: Any,
) -> None:
    device = provision("wearable")
    before = received(worker)
    topic = topic.replace(b"{device}", device.device_id.encode())
    types = raw_publish(soak_settings.mqtt_port, device, topic, payload)
    assert 0x40 not in types  # no PUBACK: the message was not taken
    assert set(types) <= {0xE0}  # at most a DISCONNECT with a reason, then the socket closed
    # The worker is unaffected: a good message after it is stored, and only that one came.
    ts = epoch_ms(datetime.now(UTC))
    good = reading_message(device, "vitals", {"hr": 70}, seq=1, ts_ms=ts)
    ok = Publisher(soak_settings, device)
    try:
        ok.send([good])
    finally:
        ok.close()
    assert ok.failure is None
    wait_for(
        lambda: count(
            soak_db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id
        ),
        until=lambda n: n == 1,
        what="the good message after the refused one",
    )
    assert received(worker) - before == 1
    assert (
        count(soak_db, "SELECT count(*) FROM dead_letters WHERE device_id = %s", device.device_id)
        == 0
    )
    assert worker.child.alive()
