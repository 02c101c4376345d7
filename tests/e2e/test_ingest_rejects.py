"""Bad input through the real broker: each rejection reason gives one dead letter with that
reason and no reading, and the worker keeps going (the next good message is stored)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import pytest

from services.operations.broker.dynsec import DynsecAdmin
from services.settings import MqttEndpoint, Settings
from tests.support import Conn, Device, count, wait_for

pytestmark = pytest.mark.usefixtures("ingest_worker")


def ms(offset_s: float = 0.0) -> int:
    return int((time.time() + offset_s) * 1000)


# (reason, stream or topic suffix, payload, site override)
CASES: list[tuple[str, str, bytes, str | None]] = [
    ("malformed_json", "vitals", b'{"ts": 1, "hr": ', None),
    ("malformed_json", "vitals", b"\xff\xfe not utf-8", None),
    ("malformed_json", "vitals", b'{"ts": 1700000000000, "hr": NaN}', None),
    ("invalid_field", "vitals", json.dumps({"ts": ms(), "hr": "72"}).encode(), None),
    ("invalid_field", "event", json.dumps({"ts": ms(), "type": "explosion"}).encode(), None),
    ("unknown_stream", "weather", json.dumps({"ts": ms(), "t": 1}).encode(), None),
    ("missing_ts", "vitals", json.dumps({"hr": 72}).encode(), None),
    ("future_ts", "vitals", json.dumps({"ts": ms(3600), "hr": 72}).encode(), None),
    ("out_of_range", "vitals", json.dumps({"ts": ms(), "hr": 300}).encode(), None),
    ("out_of_range", "vitals", json.dumps({"ts": ms(), "spo2": 49.9}).encode(), None),
    ("oversized", "motion", b'{"pad": "' + b"x" * 70_000 + b'"}', None),
    ("topic_mismatch", "vitals", json.dumps({"ts": ms(), "hr": 72}).encode(), "other-site"),
    ("bad_topic", "vitals/extra/levels", json.dumps({"ts": ms(), "hr": 72}).encode(), None),
]


@pytest.mark.parametrize(
    ("reason", "suffix", "payload", "site"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_rejected_into_dead_letters_and_worker_goes_on(
    make_device: Callable[..., Device],
    db: Conn,
    reason: str,
    suffix: str,
    payload: bytes,
    site: str | None,
) -> None:
    device = make_device()
    bad_topic = f"carewatch/v1/{site or 't1'}/{device.device_id}/{suffix}"
    assert not device.publish(bad_topic, payload).is_failure
    device.publish(f"carewatch/v1/t1/{device.device_id}/vitals", {"ts": ms(), "hr": 75})
    wait_for(
        lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id),
        until=lambda n: n == 1,
        what="good",
    )
    dead = db.execute(
        "SELECT reason, topic, payload_size, length(payload) FROM dead_letters"
        " WHERE device_id = %s",
        [device.device_id],
    ).fetchall()
    assert [(r, t) for r, t, *_ in dead] == [(reason, bad_topic)]
    size, kept = dead[0][2], dead[0][3]
    assert size == len(payload) and kept == min(len(payload), 4096)
    assert (
        count(
            db,
            "SELECT count(*) FROM readings WHERE device_id = %s AND value <> 75",
            device.device_id,
        )
        == 0
    )


def test_unknown_device_is_dead_lettered(
    settings: Settings, admin_endpoint: MqttEndpoint, db: Conn
) -> None:
    """A broker account with no device row (made behind CareWatch's back) stores nothing."""
    device_id = f"ghost-{uuid.uuid4().hex[:8]}"
    with DynsecAdmin(admin_endpoint) as admin:
        admin.create_device(device_id, "ghost-password")
    ghost = Device("127.0.0.1", settings.mqtt_port, device_id, "ghost-password")
    try:
        ghost.publish(f"carewatch/v1/t1/{device_id}/vitals", {"ts": ms(), "hr": 70})
        wait_for(
            lambda: count(db, "SELECT count(*) FROM dead_letters WHERE device_id = %s", device_id),
            until=lambda n: n == 1,
            what="the ghost's dead letter",
        )
        assert db.execute(
            "SELECT reason FROM dead_letters WHERE device_id = %s", [device_id]
        ).fetchall() == [("unknown_device",)]
        assert count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device_id) == 0
    finally:
        ghost.close()
        with DynsecAdmin(admin_endpoint) as admin:
            admin.delete_device(device_id)
