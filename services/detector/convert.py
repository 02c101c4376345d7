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


def input_key(obs: Observation) -> str:
    """A device observation's identity: the same reading delivered again (a replay after a
    crash, a QoS 1 duplicate) has the same key; two readings never do."""
    ts = obs.ts.isoformat()
    if isinstance(obs, Vital):
        return f"{obs.device_id}/{obs.source}/{obs.metric}@{ts}"
    if isinstance(obs, Motion):
        return f"{obs.device_id}/motion@{ts}"
    if isinstance(obs, DeviceEvent):
        return f"{obs.device_id}/event/{obs.type}@{ts}"
    return f"{obs.device_id}/status@{ts}"
