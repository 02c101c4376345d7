"""No device can take over a session that is not its own (issue 13, item 1), against the real
broker through real MQTT clients: a device account is bound to client id = its device id,
service client ids are reserved, and receiving is denied unless a role grants it."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from ingest.consumer import SessionConsumer
from services.operations.broker.dynsec import DynsecAdmin
from services.settings import MqttEndpoint, Settings
from tests.conftest import ServiceProcess
from tests.support import Conn, Device, count, drop_session, wait_for


def reading(device: Device, hr: int = 70) -> tuple[str, dict[str, int]]:
    return f"carewatch/v1/t1/{device.device_id}/vitals", {"ts": int(time.time() * 1000), "hr": hr}


def attempt(settings: Settings, device: Device, client_id: str) -> ReasonCode:
    """Connect with the device's own username and password under `client_id`, resuming any
    session there (clean start off): what the probe did; returns the CONNACK's reason."""
    intruder = Device(
        "127.0.0.1",
        settings.mqtt_port,
        device.device_id,
        device.password,
        client_id=client_id,
        clean_start=False,
    )
    try:
        return intruder.connect_result
    finally:
        intruder.close()


@pytest.fixture
def service_session(ingest_endpoint: MqttEndpoint) -> Iterator[Callable[[str], SessionConsumer]]:
    """A persistent session on the service account under a given client id, as an ingest
    worker or a detector partition holds it."""
    started: list[SessionConsumer] = []

    def start(client_id: str) -> SessionConsumer:
        consumer = SessionConsumer(ingest_endpoint, client_id=client_id)
        consumer.start()
        assert consumer.subscribed.wait(20), f"{client_id} did not subscribe"
        started.append(consumer)
        return consumer

    yield start
    for consumer in started:
        consumer.stop()
        # Leave no persistent session behind to queue the rest of the run's messages.
        e = consumer.endpoint
        drop_session(e.host, e.port, e.username, e.password, consumer.client_id)


def receives(consumer: SessionConsumer, device: Device, hr: int) -> None:
    """The session still receives: a reading the device publishes now reaches it."""
    topic, body = reading(device, hr)
    assert not device.publish(topic, body).is_failure
    deadline = time.monotonic() + 20
    while True:
        item = consumer.inbox.get(timeout=max(0.01, deadline - time.monotonic()))
        if item.topic == topic and f'"hr": {hr}'.encode() in item.payload:
            consumer.ack([item])
            return
        consumer.ack([item])


@pytest.mark.parametrize(
    "client_id",
    [
        "carewatch-detector-{tag}",  # a detector partition
        "carewatch-ingest-{tag}",  # ingest worker N of several (shared subscription)
        "carewatch-admin-{tag}",  # the provisioning tools
    ],
)
def test_a_device_cannot_take_over_a_service_session(
    client_id: str,
    make_device: Callable[..., Device],
    service_session: Callable[[str], SessionConsumer],
    settings: Settings,
) -> None:
    session = service_session(client_id.format(tag=uuid.uuid4().hex[:8]))
    device = make_device()
    refused = attempt(settings, device, session.client_id)
    assert refused.is_failure, f"the device was let in as {session.client_id}: {refused}"
    assert session.subscribed.is_set()  # never dropped
    receives(session, device, hr=71)


def test_a_device_cannot_take_over_the_detector(
    make_device: Callable[..., Device], detector: ServiceProcess, settings: Settings
) -> None:
    device = make_device()
    refused = attempt(settings, device, "carewatch-detector")
    assert refused.is_failure, f"the device was let in as the detector: {refused}"
    assert detector.subscribed()


def test_a_device_cannot_take_over_the_ingest_worker(
    make_device: Callable[..., Device],
    ingest_worker: ServiceProcess,
    settings: Settings,
    db: Conn,
) -> None:
    device = make_device()
    refused = attempt(settings, device, settings.ingest_client_id)
    assert refused.is_failure, f"the device was let in as the ingest worker: {refused}"
    # The worker kept its session: what the device sends now is stored, not swallowed.
    topic, body = reading(device, hr=72)
    assert not device.publish(topic, body).is_failure
    wait_for(
        lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id),
        until=lambda n: n == 1,
        what="the reading stored by the real worker",
    )
    assert ingest_worker.subscribed()


def test_a_device_cannot_connect_as_another_device(
    make_device: Callable[..., Device], settings: Settings
) -> None:
    victim, intruder = make_device(), make_device()
    refused = attempt(settings, intruder, victim.device_id)
    assert refused.is_failure, refused
    assert victim.client.is_connected()
    topic, body = reading(victim)
    assert not victim.publish(topic, body).is_failure


def test_a_device_connects_under_its_own_id_only(
    make_device: Callable[..., Device], settings: Settings
) -> None:
    device = make_device()
    device.close()  # its own id, once more: accepted
    assert not attempt(settings, device, device.device_id).is_failure
    assert attempt(settings, device, f"{device.device_id}-2").is_failure


def test_a_device_receives_nothing_even_with_a_subscription(
    make_device: Callable[..., Device],
    admin_endpoint: MqttEndpoint,
    ingest_endpoint: MqttEndpoint,
) -> None:
    """Receiving is denied unless a role grants it: even a device whose role was (wrongly)
    given a subscription gets none of the stream, while a service account does."""
    listener, other = make_device(), make_device()
    with DynsecAdmin(admin_endpoint) as admin:
        admin.run(
            [
                {
                    "command": "addRoleACL",
                    "rolename": f"device-{listener.device_id}",
                    "acltype": "subscribePattern",
                    "topic": "carewatch/v1/#",
                    "allow": True,
                }
            ]
        )
    heard: queue.Queue[str] = queue.Queue()
    listener.client.on_message = lambda _c, _u, msg: heard.put(msg.topic)
    assert not _subscribe(listener.client, "carewatch/v1/#").is_failure  # the grant took
    probe = _service_listener(ingest_endpoint)
    try:
        topic, body = reading(other)
        assert not other.publish(topic, body).is_failure
        wait_for(lambda: probe.get(timeout=20), until=lambda t: t == topic, what="service copy")
        # A SUBACK comes after any PUBLISH the broker had queued for the listener before it.
        _subscribe(listener.client, f"carewatch/v1/t1/{listener.device_id}/#")
    finally:
        probe.client.disconnect()
        probe.client.loop_stop()
    assert heard.empty(), f"the device received {heard.get_nowait()}"


def test_service_client_ids_cannot_be_provisioned(api: TestClient) -> None:
    for device_id in ("carewatch-ingest", "carewatch-detector-t1", "CareWatch-probe"):
        response = api.post(
            "/api/v1/devices", json={"device_id": device_id, "site_id": "t1", "kind": "wearable"}
        )
        assert response.status_code == 422, (device_id, response.text)


# --- helpers -------------------------------------------------------------------------------


class _Probe(queue.Queue[str]):
    client: mqtt.Client


def _service_listener(endpoint: MqttEndpoint) -> _Probe:
    probe = _Probe()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"carewatch-test-probe-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(endpoint.username, endpoint.password)
    client.on_message = lambda _c, _u, msg: probe.put(msg.topic)
    connected: queue.Queue[ReasonCode] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc, _p: connected.put(rc)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    probe.client = client
    assert not connected.get(timeout=10).is_failure
    assert not _subscribe(client, "carewatch/v1/#").is_failure
    return probe


def _subscribe(client: mqtt.Client, topic: str) -> ReasonCode:
    granted: queue.Queue[list[ReasonCode]] = queue.Queue()
    client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.put(codes)
    client.subscribe(topic, qos=1)
    (code,) = granted.get(timeout=10)
    return code
