"""DevicePublisher checks that need no broker (broker-level tests use the Mosquitto fixture)."""

from __future__ import annotations

import socket

import pytest

from device_sim.devices import SimDevice
from device_sim.errors import BrokerUnreachable, SimulatorError
from device_sim.messages import will_message
from device_sim.publisher import DevicePublisher

DEVICE = SimDevice("w-001", "site-a", "wearable", "do-not-print-me", "res-1")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unreachable_broker_is_a_clear_error() -> None:
    publisher = DevicePublisher(DEVICE, host="127.0.0.1", port=closed_port())
    with pytest.raises(BrokerUnreachable, match=r"cannot reach an MQTT broker at 127\.0\.0\.1:"):
        publisher.connect()
    assert publisher.close() == 0
    with pytest.raises(SimulatorError):
        publisher.publish(will_message(DEVICE))


def test_publish_before_connect_is_refused() -> None:
    publisher = DevicePublisher(DEVICE, host="127.0.0.1", port=1883)
    with pytest.raises(SimulatorError, match="not open"):
        publisher.publish(will_message(DEVICE))
    assert publisher.close() == 0


@pytest.mark.parametrize("cap", [0, 65536])
def test_inflight_cap_must_fit_paho_message_ids(cap: int) -> None:
    with pytest.raises(ValueError, match="max_inflight"):
        DevicePublisher(DEVICE, host="127.0.0.1", port=1883, max_inflight=cap)


def test_repr_hides_the_password() -> None:
    publisher = DevicePublisher(DEVICE, host="broker.example", port=1883)
    assert "do-not-print-me" not in repr(publisher)
    assert "w-001@broker.example:1883" in repr(publisher)
