"""Device topics of protocol v1, `carewatch/v1/{site_id}/{device_id}/{stream}`: parse and build."""

from __future__ import annotations

import re
from typing import Final

from ingest.errors import Rejected
from ingest.readings import STREAMS, Stream, Topic

TOPIC_PREFIX: Final = "carewatch/v1"

# An explicit ASCII class: `\w` would also match non-ASCII letters and digits.
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# One match for the common, valid case; the level-by-level checks only explain a failure.
_TOPIC = re.compile(re.escape(TOPIC_PREFIX) + r"/([A-Za-z0-9_-]{1,64})" * 3)
_LEVELS: Final = len(TOPIC_PREFIX.split("/")) + 3
_PREFIX_LEVELS: Final = tuple(TOPIC_PREFIX.split("/"))
_STREAMS: Final[dict[str, Stream]] = {stream: stream for stream in STREAMS}
_SHOWN_CHARS: Final = 80


def is_valid_id(value: str) -> bool:
    """Whether `value` may be a site or device id: `[A-Za-z0-9_-]{1,64}`."""
    return _ID.fullmatch(value) is not None


def parse_topic(topic: str) -> Topic:
    """Split a device topic into its parts, or raise Rejected (bad_topic / unknown_stream)."""
    match = _TOPIC.fullmatch(topic)
    if match is None:
        raise _bad_topic(topic)
    site_id, device_id, stream = match.groups()
    known = _STREAMS.get(stream)
    if known is None:
        raise Rejected("unknown_stream", f"unknown stream {_show(stream)}")
    return Topic(site_id, device_id, known)


def _bad_topic(topic: str) -> Rejected:
    levels = topic.split("/")
    if len(levels) != _LEVELS or tuple(levels[:2]) != _PREFIX_LEVELS:
        return Rejected(
            "bad_topic", f"not {TOPIC_PREFIX}/{{site}}/{{device}}/{{stream}}: {_show(topic)}"
        )
    for name, value in zip(("site_id", "device_id", "stream"), levels[2:], strict=True):
        if not is_valid_id(value):
            return Rejected("bad_topic", f"invalid {name} {_show(value)}")
    return Rejected("bad_topic", f"malformed topic {_show(topic)}")


def device_topic(site_id: str, device_id: str, stream: Stream) -> str:
    """The topic a device publishes `stream` on; ValueError if an id or the stream is invalid."""
    for name, value in (("site_id", site_id), ("device_id", device_id)):
        if not is_valid_id(value):
            raise ValueError(f"invalid {name} {_show(value)}: must match [A-Za-z0-9_-]{{1,64}}")
    if stream not in _STREAMS:
        raise ValueError(f"unknown stream {_show(stream)}")
    return f"{TOPIC_PREFIX}/{site_id}/{device_id}/{stream}"


def _show(text: str) -> str:
    """A bounded repr: topics come from the network and may be long or odd."""
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    return repr(text)
