"""Pure builders of protocol v1 messages: a reading + device + seq + ts → topic and payload."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, cast

from device_sim.devices import DeviceKind, SimDevice
from device_sim.physiology import BedReading, Vitals
from device_sim.status import StatusReading
from rules.vocabulary import RANGES, TOPIC_PREFIX, DeviceEventType

Stream = Literal["vitals", "bed", "status", "motion", "event"]

# Protocol v1's accepted ranges come from its vocabulary, which the codec enforces (one source
# of truth): a value outside them is a simulator bug, never sent.
PROTOCOL_RANGES: Final = RANGES
_STREAM_KINDS: Final[dict[Stream, frozenset[DeviceKind]]] = {
    "vitals": frozenset({"wearable"}),
    "bed": frozenset({"bed_sensor"}),
    "status": frozenset({"wearable", "bed_sensor"}),
    "motion": frozenset({"wearable"}),
    "event": frozenset({"wearable", "bed_sensor"}),
}
# A device clock that drifts further than this is resynchronised (NTP, the gateway): short of
# the 5 minutes ahead that ingest rejects as `future_ts`.
MAX_CLOCK_OFFSET_S: Final = 240.0
_NUMBERS: Final = (int, float)
# One encoder for all: json.dumps with options builds a new one on every call.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Message:
    stream: Stream
    topic: str
    payload: bytes
    retain: bool = False


DeliveryKind = Literal["data", "backfill", "duplicate", "late", "malformed"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message a device hands to the broker `offset_s` simulated seconds after the start.

    `kind`: `data` as produced; `backfill` held during a Wi-Fi drop and sent on reconnecting;
    `duplicate` sent again; `late` overtaken by later messages; `malformed` a broken copy
    (`detail` names its malformed kind).
    """

    offset_s: float
    device_id: str
    message: Message
    kind: DeliveryKind = "data"
    detail: str = ""


class DeviceClock:
    """One device's `seq` counter (shared by all its streams) and `ts` stamps.

    `skew` makes the clock drift: from `origin` (the first stamp, if not given) it gains
    `skew` seconds per second (e.g. 50e-6 for +50 ppm), up to MAX_CLOCK_OFFSET_S either way.
    """

    def __init__(
        self, first_seq: int = 1, *, skew: float = 0.0, origin: datetime | None = None
    ) -> None:
        if first_seq < 0:
            raise ValueError("seq starts at 0 or more")
        if not -0.01 < skew < 0.01:
            raise ValueError(f"skew {skew} is not a plausible clock drift")
        if origin is not None and origin.utcoffset() is None:
            raise ValueError("origin must be timezone-aware")
        self._next = first_seq
        self.skew = skew
        self._origin = origin

    @property
    def last_seq(self) -> int | None:
        return self._next - 1 if self._next > 0 else None

    def offset_s(self, t: datetime) -> float:
        """How far ahead of true time `t` this clock reads (negative: behind)."""
        if self.skew == 0.0 or self._origin is None:
            return 0.0
        offset = self.skew * (t - self._origin).total_seconds()
        return max(-MAX_CLOCK_OFFSET_S, min(MAX_CLOCK_OFFSET_S, offset))

    def stamp(self, t: datetime) -> tuple[int, int]:
        """The next (seq, ts in epoch milliseconds by this clock) for a message read at `t`."""
        ts_ms = epoch_ms(t)
        if self.skew != 0.0:
            if self._origin is None:
                self._origin = t
            ts_ms += round(self.offset_s(t) * 1000)
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


def motion_message(
    device: SimDevice,
    hz: float,
    ax: Sequence[float],
    ay: Sequence[float],
    az: Sequence[float],
    *,
    seq: int,
    ts_ms: int,
) -> Message:
    """One accelerometer window (samples in g per axis), the first sample at `ts_ms`."""
    if not len(ax) == len(ay) == len(az) > 0:
        raise ValueError("a motion window holds one or more samples per axis, equally many")
    fields = {"hz": hz, "ax": list(ax), "ay": list(ay), "az": list(az)}
    return _message(device, "motion", fields, seq=seq, ts_ms=ts_ms)


def event_message(
    device: SimDevice,
    event_type: DeviceEventType,
    *,
    seq: int,
    ts_ms: int,
    zone: str | None = None,
    confidence: float | None = None,
) -> Message:
    fields: dict[str, object] = {"type": event_type}
    if zone is not None:
        fields["zone"] = zone
    if confidence is not None:
        fields["confidence"] = confidence
    return _message(device, "event", fields, seq=seq, ts_ms=ts_ms)


def reading_message(
    device: SimDevice, stream: Stream, fields: Mapping[str, object], *, seq: int, ts_ms: int
) -> Message:
    """A message of any stream from its fields (`status` retained, as always)."""
    return _message(device, stream, fields, seq=seq, ts_ms=ts_ms, retain=stream == "status")


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
        # `type(...) in`: a bool is an int to isinstance, and this runs for every message.
        if bounds is None or type(value) not in _NUMBERS:
            continue
        if not bounds[0] <= cast(float, value) <= bounds[1]:
            raise ValueError(f"{stream}.{name}={value} is outside protocol range {bounds}")
    body = {"ts": ts_ms, "seq": seq, **fields}
    return Message(stream, device_topic(device, stream), _encode(body), retain)


def restamp(message: Message, *, seq: int, ts_ms: int) -> Message:
    """The same message with a new `seq` and `ts` (a status sent again on reconnecting)."""
    body = json.loads(message.payload)
    body.update(ts=ts_ms, seq=seq)
    return Message(message.stream, message.topic, _encode(body), message.retain)


def _encode(body: Mapping[str, object]) -> bytes:
    return _ENCODER.encode(body).encode("utf-8")
