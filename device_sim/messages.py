"""Pure builders of protocol v1 messages: a reading + device + seq + ts → topic and payload."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from device_sim.devices import DeviceKind, SimDevice
from device_sim.physiology import BedReading, Vitals
from device_sim.status import StatusReading
from ingest.codec import RANGES
from ingest.topic import TOPIC_PREFIX

Stream = Literal["vitals", "bed", "status"]

# Protocol v1's accepted ranges come from the codec that enforces them (one source of
# truth): a value outside them is a simulator bug, never sent.
PROTOCOL_RANGES: Final = RANGES
_STREAM_KINDS: Final[dict[Stream, frozenset[DeviceKind]]] = {
    "vitals": frozenset({"wearable"}),
    "bed": frozenset({"bed_sensor"}),
    "status": frozenset({"wearable", "bed_sensor"}),
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Message:
    stream: Stream
    topic: str
    payload: bytes
    retain: bool = False


class DeviceClock:
    """One device's `seq` counter (shared by all its streams) and `ts` stamps."""

    def __init__(self, first_seq: int = 1) -> None:
        if first_seq < 0:
            raise ValueError("seq starts at 0 or more")
        self._next = first_seq

    @property
    def last_seq(self) -> int | None:
        return self._next - 1 if self._next > 0 else None

    def stamp(self, t: datetime) -> tuple[int, int]:
        """The next (seq, ts in epoch milliseconds) for a message read at `t`."""
        ts_ms = epoch_ms(t)
        seq = self._next
        self._next += 1
        return seq, ts_ms


def epoch_ms(t: datetime) -> int:
    """Integer epoch milliseconds of a timezone-aware time (exact, no float rounding)."""
    if t.utcoffset() is None:
        raise ValueError("t must be timezone-aware")
    return (t - _EPOCH) // _MS


def device_topic(device: SimDevice, stream: Stream) -> str:
    return f"{TOPIC_PREFIX}/{device.site_id}/{device.device_id}/{stream}"


def vitals_message(device: SimDevice, vitals: Vitals, *, seq: int, ts_ms: int) -> Message:
    return _message(device, "vitals", vitals, seq=seq, ts_ms=ts_ms)


def bed_message(device: SimDevice, bed: BedReading, *, seq: int, ts_ms: int) -> Message:
    return _message(device, "bed", bed, seq=seq, ts_ms=ts_ms)


def status_message(device: SimDevice, status: StatusReading, *, seq: int, ts_ms: int) -> Message:
    # Retained, so a dashboard that subscribes later still learns the device's state.
    return _message(device, "status", status, seq=seq, ts_ms=ts_ms, retain=True)


def will_message(device: SimDevice) -> Message:
    """The last will the broker publishes if the device vanishes: `{"online": false}`."""
    return Message("status", device_topic(device, "status"), _encode({"online": False}), True)


def _message(
    device: SimDevice,
    stream: Stream,
    fields: Mapping[str, object],
    *,
    seq: int,
    ts_ms: int,
    retain: bool = False,
) -> Message:
    if device.kind not in _STREAM_KINDS[stream]:
        raise ValueError(f"a {device.kind} does not publish {stream}")
    if seq < 0 or ts_ms < 0:
        raise ValueError(f"seq and ts must not be negative (seq={seq}, ts={ts_ms})")
    for name, value in fields.items():
        bounds = PROTOCOL_RANGES.get(name)
        if bounds is not None and isinstance(value, int | float) and not isinstance(value, bool):
            low, high = bounds
            if not low <= value <= high:
                raise ValueError(f"{stream}.{name}={value} is outside protocol range {bounds}")
    body = {"ts": ts_ms, "seq": seq, **fields}
    return Message(stream, device_topic(device, stream), _encode(body), retain)


def _encode(body: Mapping[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
