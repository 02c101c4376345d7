"""Device → Mosquitto → ingest worker → `device_presence`: the worker keeps each device's
online span (ingest/presence.py), goes on with it after a restart, and ends it at an offline
status."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.conftest import ServiceProcess
from tests.support import Conn, Device, wait_for

SPANS = "SELECT since, last_heard, ended FROM device_presence WHERE device_id = %s ORDER BY since"


def spans(db: Conn, device_id: str) -> list[tuple[Any, ...]]:
    return db.execute(SPANS, [device_id]).fetchall()


def received(db: Conn, table: str, device_id: str) -> Any:
    row = db.execute(
        f"SELECT max(received_at) FROM {table} WHERE device_id = %s", [device_id]
    ).fetchone()
    assert row is not None
    return row[0]


def test_a_span_goes_on_through_a_restart_and_ends_at_an_offline_status(
    ingest_worker: ServiceProcess, make_device: Callable[..., Device], db: Conn, ward: str
) -> None:
    device = make_device()
    topic = f"carewatch/v1/{ward}/{device.device_id}"
    device.publish(f"{topic}/vitals", {"ts": int(time.time() * 1000), "hr": 70})
    first = wait_for(
        lambda: spans(db, device.device_id), until=bool, timeout=30, what="the span started"
    )
    since = received(db, "readings", device.device_id)
    assert first == [(since, since, False)]

    # A restarted worker takes up the open span: the next messages extend it.
    ingest_worker.stop()
    ingest_worker.start()
    device.publish(f"{topic}/vitals", b"not json")  # rejected, but the device was heard
    device.publish(f"{topic}/status", {"online": False})  # as its last will says it
    ended = wait_for(
        lambda: spans(db, device.device_id),
        until=lambda got: any(ended for *_, ended in got),
        timeout=30,
        what="the span ended",
    )
    assert ended == [(since, received(db, "device_status", device.device_id), True)]
    assert received(db, "dead_letters", device.device_id) < ended[0][1]
