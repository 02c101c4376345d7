"""Malformed messages the simulator sends on purpose, each made from a real message of the
device and rejected by ingest for a documented reason (docs/device-protocol.md, "Rejections").

Pure: the variant is drawn from the `random.Random` passed in.

`unknown_device` is the one reason a simulated device cannot provoke: the broker only lets in
devices it has an account for, and CareWatch provisions the two together.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from device_sim.messages import Message
from ingest.codec import DEFAULT_LIMITS, RANGES
from ingest.errors import RejectReason

MalformedKind = Literal[
    "truncated",
    "not_utf8",
    "nan",
    "not_object",
    "missing_ts",
    "string_number",
    "naive_ts",
    "future_ts",
    "out_of_range",
    "oversized",
    "bad_topic",
    "unknown_stream",
    "topic_mismatch",
]
MALFORMED_KINDS: Final[tuple[MalformedKind, ...]] = get_args(MalformedKind)

EXPECTED_REASON: Final[dict[MalformedKind, RejectReason]] = {
    "truncated": "malformed_json",  # cut off mid-message
    "not_utf8": "malformed_json",  # a byte that is never UTF-8
    "nan": "malformed_json",  # a reading of NaN, which JSON does not have
    "not_object": "malformed_json",  # the object wrapped in an array
    "missing_ts": "missing_ts",
    "string_number": "invalid_field",  # "72" instead of 72
    "naive_ts": "invalid_field",  # a time without an offset
    "future_ts": "future_ts",  # a clock set ten years ahead
    "out_of_range": "out_of_range",  # a value no body or sensor produces
    "oversized": "oversized",  # over the 64 KiB payload limit
    "bad_topic": "bad_topic",  # an extra topic level
    "unknown_stream": "unknown_stream",
    "topic_mismatch": "topic_mismatch",  # another site's id in the topic
}
# Streams a malformed copy is made from: the readings. Not `status` (retained: a broken one
# would stay at the broker) and not `event` (too rare and too important to shadow).
SOURCE_STREAMS: Final = frozenset({"vitals", "bed", "motion"})

_FUTURE_MS: Final = 3650 * 86_400_000
_PAD_BYTES: Final = DEFAULT_LIMITS.max_payload_bytes + 1
_SCALARS: Final = ("hr", "spo2", "rr", "temp", "sbp", "dbp", "movement", "hz")


def malform(kind: MalformedKind, message: Message, rng: random.Random) -> Message:
    """A broken copy of `message` (a vitals, bed or motion reading) of the given kind."""
    if message.stream not in SOURCE_STREAMS:
        raise ValueError(f"malformed copies are made from readings, not {message.stream}")
    body: dict[str, Any] = json.loads(message.payload)
    topic = message.topic
    payload: bytes
    if kind == "truncated":
        payload = message.payload[: rng.randint(1, len(message.payload) - 1)]
    elif kind == "not_utf8":
        at = rng.randint(0, len(message.payload))
        payload = message.payload[:at] + b"\xff" + message.payload[at:]
    elif kind == "nan":
        body[_field(body, rng)] = float("nan")
        payload = _encode(body, allow_nan=True)
    elif kind == "not_object":
        payload = _encode([body])
    elif kind == "missing_ts":
        del body["ts"]
        payload = _encode(body)
    elif kind == "string_number":
        name = _field(body, rng)
        body[name] = str(body[name])
        payload = _encode(body)
    elif kind == "naive_ts":
        # The UTC wall time with its offset dropped: what a device with a naive clock sends.
        seconds, ms = divmod(int(body["ts"]), 1000)
        wall = datetime.fromtimestamp(seconds, UTC).replace(microsecond=ms * 1000)
        body["ts"] = wall.replace(tzinfo=None).isoformat(timespec="milliseconds")
        payload = _encode(body)
    elif kind == "future_ts":
        body["ts"] = int(body["ts"]) + _FUTURE_MS
        payload = _encode(body)
    elif kind == "out_of_range":
        name = _field(body, rng)
        low, high = RANGES[name]
        body[name] = high + (high - low)
        payload = _encode(body)
    elif kind == "oversized":
        body["pad"] = "x" * _PAD_BYTES
        payload = _encode(body)
    elif kind == "bad_topic":
        topic, payload = f"{topic}/extra", message.payload
    elif kind == "unknown_stream":
        topic, payload = f"{topic}-x", message.payload
    elif kind == "topic_mismatch":
        prefix, version, site, device, stream = topic.split("/")
        other = f"{site}-x" if len(site) <= 62 else "x"
        topic, payload = "/".join((prefix, version, other, device, stream)), message.payload
    else:
        raise ValueError(f"unknown malformed kind {kind!r}")
    return Message(message.stream, topic, payload, retain=False)


def _field(body: dict[str, Any], rng: random.Random) -> str:
    """A numeric reading in the body (not ts or seq) to break."""
    names = [n for n in _SCALARS if isinstance(body.get(n), int | float)]
    if not names:
        raise ValueError("no numeric reading to break")
    return rng.choice(names)


def _encode(body: object, *, allow_nan: bool = False) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=allow_nan).encode("utf-8")
