"""What one validated device message (protocol v1) becomes: where it came from, and the
observations it carries, in the rules' own types (`rules.types`).

Nothing here knows about MQTT or SQL; the codec produces these, the writer stores them and the
detector hands the observations to the rules as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rules.types import Observation
from rules.vocabulary import Stream


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
class DeviceMessage:
    """One decoded message: a `vitals`, `bed` or `fhir` message holds one `Vital` per
    measurement (flags as 1.0 / 0.0), the others exactly one `Motion`, `DeviceEvent` or
    `DeviceStatus`. Every observation has the header's `ts` and `device_id`."""

    header: Header
    observations: tuple[Observation, ...]
