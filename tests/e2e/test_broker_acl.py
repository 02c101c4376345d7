"""The broker keeps devices in their lanes: per-device passwords and publish ACLs."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from services.settings import Settings
from tests.support import Conn, Device, count, wait_for

pytestmark = pytest.mark.usefixtures("ingest_worker")


def test_device_cannot_publish_as_another(make_device: Callable[..., Device], db: Conn) -> None:
    a, b = make_device(), make_device()
    refused = a.publish(
        f"carewatch/v1/t1/{b.device_id}/vitals", {"ts": int(time.time() * 1000), "hr": 70}
    )
    assert refused.is_failure and refused.getName() == "Not authorized"
    # A's own message, published after, is stored: the refused one would have been by now.
    a.publish(f"carewatch/v1/t1/{a.device_id}/vitals", {"ts": int(time.time() * 1000), "hr": 71})
    wait_for(
        lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", a.device_id),
        until=lambda n: n == 1,
        what="A's own reading",
    )
    assert count(db, "SELECT count(*) FROM readings WHERE device_id = %s", b.device_id) == 0
    assert count(db, "SELECT count(*) FROM dead_letters WHERE device_id = %s", b.device_id) == 0


def test_device_cannot_subscribe(make_device: Callable[..., Device]) -> None:
    device = make_device()
    granted: queue.Queue[list[object]] = queue.Queue()
    device.client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.put(codes)
    device.client.subscribe("carewatch/v1/#", qos=1)
    codes = granted.get(timeout=10)
    assert all(code.is_failure for code in codes)  # type: ignore[attr-defined]


def test_wrong_password_is_refused(make_device: Callable[..., Device], settings: Settings) -> None:
    device = make_device()
    intruder = Device("127.0.0.1", settings.mqtt_port, device.device_id, "not-the-password")
    try:
        assert intruder.connect_result.is_failure
    finally:
        intruder.close()


def test_anonymous_clients_are_refused(settings: Settings) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anonymous", protocol=mqtt.MQTTv5)
    answered: queue.Queue[ReasonCode] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, reason, _p: answered.put(reason)
    client.connect("127.0.0.1", settings.mqtt_port)  # no username, no password
    client.loop_start()
    try:
        reason = answered.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()
    assert reason.is_failure and reason.getName() == "Not authorized"


def test_a_device_may_subscribe_to_nothing(make_device: Callable[..., Device]) -> None:
    device = make_device()
    filters = [
        "#",
        "$SYS/#",
        "$CONTROL/dynamic-security/v1/response",
        f"carewatch/v1/t1/{device.device_id}/#",  # not even its own messages
        "carewatch/v1/+/+/status",
    ]
    granted: queue.Queue[list[ReasonCode]] = queue.Queue()
    device.client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.put(codes)
    device.client.subscribe([(topic, 1) for topic in filters])
    codes = granted.get(timeout=10)
    assert len(codes) == len(filters) and all(code.is_failure for code in codes)
