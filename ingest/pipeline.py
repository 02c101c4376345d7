"""From a raw MQTT message to something to store: a typed message or a dead letter (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ingest.codec import DEFAULT_LIMITS, Limits, decode
from ingest.errors import Rejected
from ingest.readings import DeviceMessage
from ingest.topic import parse_topic
from ingest.writer import DEAD_LETTER_BYTES, DeadLetter
from rules.vocabulary import TOPIC_PREFIX, is_valid_id


@dataclass(frozen=True, slots=True)
class Inbound:
    """What the MQTT callback hands on: nothing past the adapter knows about paho."""

    topic: str
    payload: bytes
    received_at: datetime
    mid: int = 0  # the broker's message id, acknowledged once the message is committed
    connection: int = 0  # which connection it came on: a mid means nothing on another one
    # The real size of an oversized payload of which only the head was kept (`received`).
    truncated_from: int | None = None
    # Published with the retain flag (seen live only with MQTT 5 Retain As Published).
    retained: bool = False

    @property
    def size(self) -> int:
        """The payload's size as received."""
        return len(self.payload) if self.truncated_from is None else self.truncated_from

    @classmethod
    def received(
        cls,
        topic: str,
        payload: bytes,
        received_at: datetime,
        *,
        mid: int = 0,
        connection: int = 0,
        max_payload_bytes: int | None = None,
        retained: bool = False,
    ) -> Inbound:
        """A message as taken from the broker. Of a payload over `max_payload_bytes` only the
        head a dead letter keeps is held: it is rejected unparsed anyway, and a run of them
        (the broker lets through up to 1 MiB each) must not fill the worker's memory."""
        if max_payload_bytes is None or len(payload) <= max_payload_bytes:
            return cls(topic, payload, received_at, mid, connection, retained=retained)
        head = payload[:DEAD_LETTER_BYTES]
        return cls(
            topic,
            head,
            received_at,
            mid,
            connection,
            truncated_from=len(payload),
            retained=retained,
        )

    @property
    def is_clear(self) -> bool:
        """An empty retained message: MQTT's way to delete one (ours, or a device's own)."""
        return self.retained and self.size == 0


def topic_device(topic: str) -> str | None:
    """The device a topic names, even when the topic is otherwise wrong (unknown stream,
    extra levels), so an integrator can find their dead letters by device."""
    parts = topic.split("/")
    if len(parts) >= 4 and "/".join(parts[:2]) == TOPIC_PREFIX and is_valid_id(parts[3]):
        return parts[3]
    return None


def classify(
    inbound: Inbound,
    site_of: Callable[[str], str | None],
    limits: Limits = DEFAULT_LIMITS,
) -> DeviceMessage | DeadLetter:
    """Decode and check the device's provisioned site; every failure becomes a dead letter."""
    try:
        if inbound.retained:
            _check_retained(inbound, limits)
        if inbound.truncated_from is not None:
            raise Rejected(
                "oversized", f"{inbound.truncated_from} bytes > {limits.max_payload_bytes}"
            )
        message = decode(
            inbound.topic, inbound.payload, received_at=inbound.received_at, limits=limits
        )
        site = site_of(message.header.device_id)
        if site is None:
            raise Rejected(
                "unknown_device", f"device {message.header.device_id!r} is not provisioned"
            )
        if site != message.header.site_id:
            raise Rejected(
                "topic_mismatch",
                f"device {message.header.device_id!r} belongs to site {site!r}, "
                f"not {message.header.site_id!r}",
            )
    except Rejected as rejected:
        return DeadLetter(
            received_at=inbound.received_at,
            topic=inbound.topic,
            device_id=topic_device(inbound.topic),
            reason=rejected.reason,
            detail=rejected.detail,
            payload=inbound.payload,
            payload_size=inbound.size,
        )
    return message


def _check_retained(inbound: Inbound, limits: Limits) -> None:
    """Only a device's `status` may stay at the broker, and only a small one: any other
    retained message would be stored there (and replayed to every new subscriber) without
    bound. The worker clears what this rejects (docs/ingest.md, "Retained messages")."""
    try:
        stream = parse_topic(inbound.topic).stream
    except Rejected:
        stream = None
    if stream != "status":
        raise Rejected("retained", "only status may be published with the retain flag")
    if inbound.size > limits.max_retained_bytes:
        raise Rejected(
            "retained", f"retained status of {inbound.size} bytes > {limits.max_retained_bytes}"
        )
