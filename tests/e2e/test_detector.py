"""The detector process on the live stream: device → broker → rules → alert candidates."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.conftest import ServiceProcess
from tests.support import Conn, Device, candidates, new_resident, wait_for


def vitals_topic(device: Device) -> str:
    return f"carewatch/v1/t1/{device.device_id}/vitals"


def test_sos_reaches_the_outbox(
    make_device: Callable[..., Device], db: Conn, detector: ServiceProcess
) -> None:
    resident = new_resident(db)
    device = make_device(resident_id=resident)
    device.publish(
        f"carewatch/v1/t1/{device.device_id}/event", {"ts": int(time.time() * 1000), "type": "sos"}
    )
    wait_for(
        lambda: candidates(db, resident),
        until=lambda c: ("sos", "raise") in c,
        timeout=15,
        what="the SOS candidate",
    )


def test_an_open_condition_survives_a_detector_crash(
    make_device: Callable[..., Device], db: Conn, detector: ServiceProcess
) -> None:
    resident = new_resident(db)
    device = make_device(resident_id=resident)
    start_ms = int(time.time() * 1000) - 120_000  # a buffered minute and more, one per second

    def spo2(second: int, value: int) -> None:
        device.publish(vitals_topic(device), {"ts": start_ms + second * 1000, "spo2": value})

    for second in range(30):
        spo2(second, 97 if second < 5 else 86)  # below 90 for 25 s: past the 15 s persistence
    wait_for(
        lambda: candidates(db, resident),
        until=lambda c: ("vital.spo2.low", "raise") in c,
        timeout=15,
        what="the desaturation alert",
    )

    detector.kill()
    detector.start()  # resumes from its snapshots
    for second in range(30, 60):
        spo2(second, 86)  # still low: 30 s more, enough to raise again had it forgotten
    device.publish(
        f"carewatch/v1/t1/{device.device_id}/event", {"ts": start_ms + 61_000, "type": "sos"}
    )  # processed after the readings
    found = wait_for(
        lambda: candidates(db, resident),
        until=lambda c: ("sos", "raise") in c,
        timeout=15,
        what="the barrier SOS",
    )
    assert found.count(("vital.spo2.low", "raise")) == 1, found
