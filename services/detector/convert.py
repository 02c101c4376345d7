"""Decoded device messages → the rules' observation types (pure)."""

from __future__ import annotations

from typing import cast

from ingest.readings import (
    DeviceMessage,
    EventMessage,
    MotionMessage,
    NumericMessage,
    StatusMessage,
)
from rules.types import (
    DeviceEvent,
    DeviceStatus,
    Motion,
    Observation,
    Source,
    Vital,
)


def observations(message: DeviceMessage) -> list[Observation]:
    h = message.header
    if isinstance(message, NumericMessage):
        source = cast(Source, h.stream)  # vitals, bed or fhir
        return [Vital(h.ts, m.metric, m.value, source, h.device_id) for m in message.measurements]
    if isinstance(message, MotionMessage):
        return [Motion(h.ts, h.device_id, message.hz, message.ax, message.ay, message.az)]
    if isinstance(message, EventMessage):
        return [DeviceEvent(h.ts, h.device_id, message.type, message.zone, message.confidence)]
    if isinstance(message, StatusMessage):
        return [DeviceStatus(h.ts, h.device_id, message.battery, message.online)]
    return []
