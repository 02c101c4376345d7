"""Malformed messages the simulator sends on purpose, each made from a real message of the
device and rejected by ingest for a documented reason (docs/device-protocol.md, "Rejections").

Pure: the variant is drawn from the `random.Random` passed in.

`unknown_device` is the one reason a simulated device cannot provoke: the broker only lets in
devices it has an account for, and CareWatch provisions the two together. Nor can a device send
a topic with `+` or `#`, a NUL, or a packet over 1 MiB: the broker disconnects it for that,
and nothing reaches CareWatch (tests/faults/test_bad_input.py).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from device_sim.messages import Message
from ingest.codec import DEFAULT_LIMITS
from ingest.errors import RejectReason
from rules.vocabulary import ACCELERATION_AXES, RANGES, VITAL_SIGNS

MalformedKind = Literal[
    "truncated",
    "not_utf8",
    "utf8_surrogate",
    "nan",
    "infinity",
    "deep_nesting",
    "not_object",
    "missing_ts",
    "string_number",
    "naive_ts",
    "future_ts",
    "ancient_ts",
    "duplicate_key",
    "out_of_range",
    "oversized",
    "huge_motion",
    "bad_topic",
    "dot_dot_level",
    "empty_level",
    "percent_slash",
    "lookalike_stream",
    "overlong_level",
    "unknown_stream",
    "topic_mismatch",
]
MALFORMED_KINDS: Final[tuple[MalformedKind, ...]] = get_args(MalformedKind)

EXPECTED_REASON: Final[dict[MalformedKind, RejectReason]] = {
    "truncated": "malformed_json",  # cut off mid-message
    "not_utf8": "malformed_json",  # a byte that is never UTF-8
    "utf8_surrogate": "malformed_json",  # a UTF-16 surrogate encoded as UTF-8 (CESU-8)
    "nan": "malformed_json",  # a reading of NaN, which JSON does not have
    "infinity": "malformed_json",  # nor Infinity
    "deep_nesting": "malformed_json",  # a reading tens of thousands of arrays deep
    "not_object": "malformed_json",  # the object wrapped in an array
    "missing_ts": "missing_ts",
    "string_number": "invalid_field",  # "72" instead of 72
    "naive_ts": "invalid_field",  # a time without an offset
    "future_ts": "future_ts",  # a clock set ten years ahead
    "ancient_ts": "too_old",  # a clock reset to 2000: older than any retention keeps
    "duplicate_key": "malformed_json",  # a field given twice, `{"hr": 300, "hr": 72}`
    "out_of_range": "out_of_range",  # a value no body or sensor produces
    "oversized": "oversized",  # over the 64 KiB payload limit
    "huge_motion": "invalid_field",  # a motion window of more samples than allowed
    "bad_topic": "bad_topic",  # an extra topic level
    "dot_dot_level": "bad_topic",  # a `..` level, as if topics were paths
    "empty_level": "bad_topic",  # an empty site level (`carewatch/v1//dev/vitals`)
    "percent_slash": "bad_topic",  # a URL-encoded slash in the site id
    "lookalike_stream": "bad_topic",  # a Cyrillic letter that looks Latin in the stream
    "overlong_level": "bad_topic",  # a site id far over 64 characters
    "unknown_stream": "unknown_stream",
    "topic_mismatch": "topic_mismatch",  # another site's id in the topic
}
# Streams a malformed copy is made from: the readings. Not `status` (retained: a broken one
# would stay at the broker) and not `event` (too rare and too important to shadow).
SOURCE_STREAMS: Final = frozenset({"vitals", "bed", "motion"})

_FUTURE_MS: Final = 3650 * 86_400_000
_Y2K_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z
_PAD_BYTES: Final = DEFAULT_LIMITS.max_payload_bytes + 1
# Deep, but under the payload limit: the parser must refuse it, not the size check.
_NESTING_ROOM: Final = DEFAULT_LIMITS.max_payload_bytes - 64
# Samples per axis of a `huge_motion` window: twice the limit, and still under 64 KiB.
_HUGE_MOTION: Final = 2 * DEFAULT_LIMITS.max_motion_samples
# Cyrillic letters that look like Latin ones: а, е, о, с.
_LOOKALIKES: Final = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441"}
_OVERLONG_ID: Final = 200
_SCALARS: Final = (*VITAL_SIGNS, "movement", "hz")
_AXES: Final = ACCELERATION_AXES


def malform(kind: MalformedKind, message: Message, rng: random.Random) -> Message:
    """A broken copy of `message` (a vitals, bed or motion reading) of the given kind."""
    if message.stream not in SOURCE_STREAMS:
        raise ValueError(f"malformed copies are made from readings, not {message.stream}")
    body: dict[str, Any] = json.loads(message.payload)
    topic = message.topic
    payload: bytes
    if kind in _TOPIC_KINDS:
        topic, payload = _broken_topic(kind, topic), message.payload
    elif kind == "huge_motion":
        prefix, _, _ = topic.rpartition("/")
        samples = [0] * _HUGE_MOTION
        window = {"ts": body["ts"], "seq": body.get("seq"), "hz": 50}
        topic, payload = f"{prefix}/motion", _encode(window | dict.fromkeys(_AXES, samples))
    else:
        payload = _broken_payload(kind, message.payload, body, rng)
    return Message(message.stream, topic, payload, retain=False)


# Kinds that break the topic and leave the payload as it was.
_TOPIC_KINDS: Final[frozenset[MalformedKind]] = frozenset(
    {
        "bad_topic",
        "dot_dot_level",
        "empty_level",
        "percent_slash",
        "lookalike_stream",
        "overlong_level",
        "unknown_stream",
        "topic_mismatch",
    }
)


def _broken_payload(
    kind: MalformedKind, raw: bytes, body: dict[str, Any], rng: random.Random
) -> bytes:
    """The reading's payload (`raw`, parsed: `body`) broken in the way `kind` says."""
    if kind == "truncated":
        return raw[: rng.randint(1, len(raw) - 1)]
    if kind == "not_utf8":
        at = rng.randint(0, len(raw))
        return raw[:at] + b"\xff" + raw[at:]
    if kind == "utf8_surrogate":
        body["note"] = "\ud800"
        # Python's UTF-8 codec refuses surrogates unless told to pass them through.
        return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if kind == "nan":
        body[_field(body, rng)] = float("nan")
        return _encode(body, allow_nan=True)
    if kind == "infinity":
        body[_field(body, rng)] = rng.choice((float("inf"), float("-inf")))
        return _encode(body, allow_nan=True)
    if kind == "deep_nesting":
        # Only ts and seq besides: a long motion window would leave no room for depth.
        name = _field(body, rng)
        head = _encode({"ts": body["ts"], "seq": body.get("seq"), name: 0})[:-2]
        depth = (_NESTING_ROOM - len(head)) // 2
        return head + b"[" * depth + b"]" * depth + b"}"
    if kind == "not_object":
        return _encode([body])
    if kind == "duplicate_key":
        # json.dumps cannot write a key twice: splice the repeat in after the opening brace.
        name = _field(body, rng)
        return b'{"%s": %s, ' % (name.encode(), _encode(body[name])) + _encode(body)[1:]
    return _encode(_broken_fields(kind, body, rng))


def _broken_fields(kind: MalformedKind, body: dict[str, Any], rng: random.Random) -> Any:
    """The body with a field missing, of the wrong type, or out of range."""
    if kind == "missing_ts":
        del body["ts"]
    elif kind == "string_number":
        name = _field(body, rng)
        body[name] = str(body[name])
    elif kind == "naive_ts":
        # The UTC wall time with its offset dropped: what a device with a naive clock sends.
        seconds, ms = divmod(int(body["ts"]), 1000)
        wall = datetime.fromtimestamp(seconds, UTC).replace(microsecond=ms * 1000)
        body["ts"] = wall.replace(tzinfo=None).isoformat(timespec="milliseconds")
    elif kind == "future_ts":
        body["ts"] = int(body["ts"]) + _FUTURE_MS
    elif kind == "ancient_ts":
        body["ts"] = _Y2K_MS + int(body["ts"]) % 86_400_000
    elif kind == "out_of_range":
        name = _field(body, rng)
        low, high = RANGES[name]
        body[name] = high + (high - low)
    elif kind == "oversized":
        body["pad"] = "x" * _PAD_BYTES
    else:
        raise ValueError(f"unknown malformed kind {kind!r}")
    return body


def _broken_topic(kind: MalformedKind, topic: str) -> str:
    """The reading's topic broken in the way `kind` says (the broker's ACL lets it through)."""
    if kind == "bad_topic":
        return f"{topic}/extra"
    if kind == "dot_dot_level":
        prefix, _, stream = topic.rpartition("/")
        return f"{prefix}/../{stream}"
    if kind == "empty_level":
        return _with_site(topic, "")
    if kind == "percent_slash":
        return _with_site(topic, f"{_site(topic)}%2Fx")
    if kind == "lookalike_stream":
        prefix, _, stream = topic.rpartition("/")
        at = next(i for i, char in enumerate(stream) if char in _LOOKALIKES)
        return f"{prefix}/{stream[:at] + _LOOKALIKES[stream[at]] + stream[at + 1 :]}"
    if kind == "overlong_level":
        site = _site(topic)
        return _with_site(topic, (site * (_OVERLONG_ID // len(site) + 1))[:_OVERLONG_ID])
    if kind == "unknown_stream":
        return f"{topic}-x"
    site = _site(topic)  # topic_mismatch: another site's id
    return _with_site(topic, f"{site}-x" if len(site) <= 62 else "x")


def _site(topic: str) -> str:
    return topic.split("/")[2]


def _with_site(topic: str, site: str) -> str:
    """The topic with another site level: the broker's ACL lets a device publish under any
    site, but only under its own device id."""
    prefix, version, _, device, stream = topic.split("/")
    return "/".join((prefix, version, site, device, stream))


def _field(body: dict[str, Any], rng: random.Random) -> str:
    """A numeric reading in the body (not ts or seq) to break."""
    names = [n for n in _SCALARS if isinstance(body.get(n), int | float)]
    if not names:
        raise ValueError("no numeric reading to break")
    return rng.choice(names)


def _encode(body: object, *, allow_nan: bool = False) -> bytes:
    return json.dumps(body, separators=(",", ":"), allow_nan=allow_nan).encode("utf-8")
