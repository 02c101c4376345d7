"""Typed readings: what one validated device message (protocol v1) becomes.

Nothing here knows about MQTT or SQL; the codec produces these, the writer stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rules.fall_placement import Placement

Stream = Literal["vitals", "motion", "bed", "event", "status", "fhir"]
STREAMS: tuple[Stream, ...] = ("vitals", "motion", "bed", "event", "status", "fhir")

EventType = Literal[
    "fall", "sos", "wear_off", "wear_on", "bed_exit", "bed_enter", "zone_exit", "zone_enter"
]


@dataclass(frozen=True, slots=True)
class Topic:
    """`carewatch/v1/{site_id}/{device_id}/{stream}`, parsed."""

    site_id: str
    device_id: str
    stream: Stream


@dataclass(frozen=True, slots=True)
class Header:
    """What every message carries: where it came from and when it was measured."""

    site_id: str
    device_id: str
    stream: Stream
    ts: datetime  # timezone-aware, UTC
    seq: int | None


@dataclass(frozen=True, slots=True)
class Measurement:
    """One numeric value of one metric, e.g. ("hr", 72.0). Booleans are stored as 1.0 / 0.0."""

    metric: str
    value: float


@dataclass(frozen=True, slots=True)
class NumericMessage:
    """A `vitals`, `bed` or `fhir` message: one or more measurements taken at `header.ts`."""

    header: Header
    measurements: tuple[Measurement, ...]


@dataclass(frozen=True, slots=True)
class MotionMessage:
    """One accelerometer window (unit g) starting at `header.ts`, sampled at `hz`."""

    header: Header
    hz: float
    ax: tuple[float, ...]
    ay: tuple[float, ...]
    az: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class EventMessage:
    header: Header
    type: EventType
    zone: str | None
    confidence: float | None


@dataclass(frozen=True, slots=True)
class StatusMessage:
    header: Header
    battery: float | None
    online: bool | None
    rssi: float | None
    fw: str | None
    placement: Placement | None = None


DeviceMessage = NumericMessage | MotionMessage | EventMessage | StatusMessage
