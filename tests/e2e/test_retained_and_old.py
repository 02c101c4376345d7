"""What a device may leave at the broker or make the database keep (issue 13, items 9 and 10),
through real MQTT clients, the real broker, the real ingest worker and TimescaleDB: retained
messages only on `status` and small, readings no older than retention, no duplicate keys."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import CollectorRegistry

from ingest.metrics import IngestMetrics
from ingest.worker import IngestWorker, WorkerConfig, retention_job
from services.settings import MqttEndpoint, Settings, database_url
from tests.support import Conn, Device, count, drop_session, wait_for

pytestmark = pytest.mark.usefixtures("ingest_worker")


def now_ms() -> int:
    return int(time.time() * 1000)


def dead(db: Conn, device: Device, reason: str) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT topic, detail FROM dead_letters WHERE device_id = %s AND reason = %s ORDER BY id",
        [device.device_id, reason],
    ).fetchall()
    return [(str(topic), str(detail)) for topic, detail in rows]


def retained_at(endpoint: MqttEndpoint, topic_filter: str) -> set[str]:
    """The topics under `topic_filter` the broker holds a retained message for, as a new
    subscriber sees them (a service account: devices may not subscribe)."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"carewatch-test-retained-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(endpoint.username, endpoint.password)
    seen: set[str] = set()
    acks: queue.Queue[list[ReasonCode]] = queue.Queue()
    connected: queue.Queue[ReasonCode] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc, _p: connected.put(rc)
    client.on_message = lambda _c, _u, msg: seen.add(msg.topic) if msg.retain else None
    client.on_subscribe = lambda _c, _u, _mid, codes, _p: acks.put(codes)
    client.connect(endpoint.host, endpoint.port, clean_start=True)
    client.loop_start()
    try:
        assert not connected.get(timeout=10).is_failure
        client.subscribe(topic_filter, qos=1)
        acks.get(timeout=10)
        # The broker sends a subscription's retained messages before it answers the next
        # SUBSCRIBE: this SUBACK means all of them are in.
        client.subscribe("carewatch/v1/none/none/none", qos=1)
        acks.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()
    return seen


def test_retained_readings_and_sub_topics_are_dead_lettered_and_cleared(
    make_device: Callable[..., Device], db: Conn, ingest_endpoint: MqttEndpoint
) -> None:
    device = make_device()
    base = f"carewatch/v1/t1/{device.device_id}"
    status = {"ts": now_ms(), "online": True, "battery": 80}
    assert not device.publish(f"{base}/status", status, retain=True).is_failure
    assert not device.publish(f"{base}/vitals", {"ts": now_ms(), "hr": 72}, retain=True).is_failure
    junk = b"x" * (900 * 1024)  # what the probe left, 40 times over
    assert not device.publish(f"{base}/status/junk", junk, retain=True).is_failure
    wait_for(
        lambda: {topic for topic, _ in dead(db, device, "retained")},
        until=lambda topics: topics == {f"{base}/vitals", f"{base}/status/junk"},
        what="both retained messages dead-lettered",
    )
    wait_for(
        lambda: retained_at(ingest_endpoint, f"{base}/#"),
        until=lambda topics: topics == {f"{base}/status"},
        what="only the status left retained at the broker",
    )
    assert count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id) == 0
    stored = "SELECT count(*) FROM device_status WHERE device_id = %s"
    assert count(db, stored, device.device_id) == 1


def test_a_retained_status_over_the_cap_is_dead_lettered_and_cleared(
    make_device: Callable[..., Device], db: Conn, ingest_endpoint: MqttEndpoint
) -> None:
    device = make_device()
    topic = f"carewatch/v1/t1/{device.device_id}/status"
    big = {"ts": now_ms(), "online": True, "pad": "x" * 8000}  # valid, but 8 KiB
    assert not device.publish(topic, big, retain=True).is_failure
    wait_for(
        lambda: dead(db, device, "retained"),
        until=lambda rows: len(rows) == 1,
        what="the big status dead-lettered",
    )
    assert "> 4096" in dead(db, device, "retained")[0][1]
    wait_for(lambda: retained_at(ingest_endpoint, topic), until=lambda t: not t, what="cleared")
    # A status of the usual size is kept, retained, as before.
    assert not device.publish(topic, {"ts": now_ms(), "online": True}, retain=True).is_failure
    wait_for(
        lambda: retained_at(ingest_endpoint, topic),
        until=lambda t: t == {topic},
        what="the small status retained",
    )
    assert len(dead(db, device, "retained")) == 1  # our own clear is no dead letter


def test_a_reading_older_than_retention_is_dead_lettered_without_a_chunk(
    make_device: Callable[..., Device], db: Conn
) -> None:
    device = make_device()
    topic = f"carewatch/v1/t1/{device.device_id}/vitals"
    ancient = "1999-06-15T12:00:00Z"  # a day no chunk exists for
    chunks = (
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'"
        " AND range_start <= %s::timestamptz AND range_end > %s::timestamptz"
    )
    assert count(db, chunks, ancient, ancient) == 0
    assert not device.publish(topic, {"ts": ancient, "hr": 70}).is_failure
    rows = wait_for(lambda: dead(db, device, "too_old"), until=bool, what="too_old dead letter")
    assert "365-day retention" in rows[0][1]
    assert count(db, chunks, ancient, ancient) == 0
    assert count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id) == 0


def test_duplicate_keys_are_dead_lettered(make_device: Callable[..., Device], db: Conn) -> None:
    device = make_device()
    topic = f"carewatch/v1/t1/{device.device_id}/vitals"
    payload = f'{{"ts": {now_ms()}, "hr": 300, "hr": 72}}'
    assert not device.publish(topic, payload).is_failure
    rows = wait_for(
        lambda: dead(db, device, "malformed_json"), until=bool, what="malformed_json dead letter"
    )
    assert rows[0][1].startswith("duplicate key")
    assert count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id) == 0


def test_retention_runs_when_the_worker_starts(
    settings: Settings, db: Conn, ingest_endpoint: MqttEndpoint
) -> None:
    day = "2001-02-03T12:00:00Z"  # far past any retention
    db.execute(
        "INSERT INTO readings (ts, device_id, metric, value, source, received_at)"
        " VALUES (%s, 'retention-at-start', 'hr', 70, 'device', now())",
        [day],
    )
    chunks = (
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'readings'"
        " AND range_start <= %s::timestamptz AND range_end > %s::timestamptz"
    )
    assert count(db, chunks, day, day) == 1
    client_id = f"carewatch-ingest-retention-{uuid.uuid4().hex[:6]}"
    config = WorkerConfig(client_id=client_id, share_group="retention-test")
    worker = IngestWorker(
        config,
        mqtt_endpoint=ingest_endpoint,
        database_url=database_url(settings, "ingest"),
        metrics=IngestMetrics(CollectorRegistry()),
        jobs=(retention_job(config),),
    )
    running = threading.Thread(target=worker.run, daemon=True)
    running.start()
    try:
        wait_for(lambda: count(db, chunks, day, day), until=lambda n: n == 0, what="chunk dropped")
    finally:
        worker.stop()
        running.join(timeout=30)
        e = ingest_endpoint
        drop_session(e.host, e.port, e.username, e.password, client_id)
    assert not running.is_alive()
