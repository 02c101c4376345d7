"""Device topics of protocol v1, `carewatch/v1/{site_id}/{device_id}/{stream}`: parsing, with
the reasons a topic is refused. The grammar itself is the vocabulary's (`rules.vocabulary`)."""

from __future__ import annotations

import re
from typing import Final

from ingest.errors import Rejected
from ingest.readings import Topic
from rules.vocabulary import ID_PATTERN, STREAMS, TOPIC_PREFIX, Stream, is_valid_id

# One match for the common, valid case; the level-by-level checks only explain a failure.
_TOPIC = re.compile(re.escape(TOPIC_PREFIX) + f"/({ID_PATTERN})" * 3)
_LEVELS: Final = len(TOPIC_PREFIX.split("/")) + 3
_PREFIX_LEVELS: Final = tuple(TOPIC_PREFIX.split("/"))
_STREAMS: Final[dict[str, Stream]] = {stream: stream for stream in STREAMS}
_SHOWN_CHARS: Final = 80


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


def _show(text: str) -> str:
    """A bounded repr: topics come from the network and may be long or odd."""
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    return repr(text)
