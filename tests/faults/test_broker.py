"""Mosquitto restarted (persistence on) while the devices publish at QoS 1 and a resident falls
while it is down: paho keeps the unacknowledged messages and sends them again; the broker
saves the workers' persistent sessions on its way down and delivers them after; every reading
is stored once and the fall paged once, and the last wills the broker publishes going down
page nobody (the devices are back within the offline rule's grace; what is counted:
accounting.py)."""

from __future__ import annotations

import time

import pytest

from tests.faults.ward import OFFLINE_GRACE_S, Ward

pytestmark = pytest.mark.faults

DOWN_S = 3.0


def test_mosquitto_restart(fault_ward: Ward) -> None:
    ward = fault_ward
    broker = ward.stack.mosquitto
    assert broker is not None
    # Going down, Mosquitto publishes every connected device's last will; the devices are
    # back within seconds, inside the offline rule's grace: nobody is paged for them.
    window = ward.begin("Mosquitto restarted while the devices publish at QoS 1")
    ingest = ward.ingest_marks()
    sent_before = ward.devices_stream.count()
    stopped = time.monotonic()
    broker.stop()
    window.note("Mosquitto stopped (SIGTERM: it writes its persistence file)")
    ward.fall(window)
    ward.stream_for(DOWN_S)
    broker.start()
    window.note(
        f"Mosquitto started again after {time.monotonic() - stopped:.1f} s; "
        f"{ward.devices_stream.count() - sent_before} messages handed to paho meanwhile"
    )
    ward.fall(window)
    ward.stream_for(OFFLINE_GRACE_S + 5)  # past the wills' grace
    window.note(f"streamed past the {OFFLINE_GRACE_S} s grace after the wills")
    report = ward.settle(window)
    report.counted.append(ward.ingest_since(ingest))
    print(report.text())
    assert not report.problems, report.text()
