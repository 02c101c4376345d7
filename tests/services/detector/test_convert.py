from __future__ import annotations

from datetime import UTC, datetime

from ingest.readings import (
    EventMessage,
    Header,
    Measurement,
    MotionMessage,
    NumericMessage,
    StatusMessage,
)
from rules.types import DeviceEvent, DeviceStatus, Motion, Vital
from services.detector.convert import observations

TS = datetime(2026, 3, 1, 12, tzinfo=UTC)


def header(stream: str) -> Header:
    return Header("s", "d1", stream, TS, 3)  # type: ignore[arg-type]


def test_numeric_message_becomes_one_vital_per_measurement() -> None:
    message = NumericMessage(header("bed"), (Measurement("hr", 60), Measurement("occupied", 1)))
    assert observations(message) == [
        Vital(TS, "hr", 60, "bed", "d1"),
        Vital(TS, "occupied", 1, "bed", "d1"),
    ]


def test_motion_event_status() -> None:
    motion = MotionMessage(header("motion"), 50.0, (0.0,), (-1.0,), (0.1,))
    assert observations(motion) == [Motion(TS, "d1", 50.0, (0.0,), (-1.0,), (0.1,))]
    event = EventMessage(header("event"), "zone_exit", "garden", None)
    assert observations(event) == [DeviceEvent(TS, "d1", "zone_exit", "garden", None)]
    status = StatusMessage(header("status"), 80.0, True, -60.0, "1.0")
    assert observations(status) == [DeviceStatus(TS, "d1", 80.0, True)]
