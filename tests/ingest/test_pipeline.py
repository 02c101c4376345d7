"""Tests for ingest.pipeline: a raw message becomes a typed message or a dead letter (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingest.codec import Limits
from ingest.pipeline import Inbound, classify, topic_device
from ingest.readings import DeviceMessage, Header
from ingest.writer import DeadLetter
from rules.types import Vital

NOW = datetime(2025, 3, 1, 4, 0, 0, tzinfo=UTC)
TS_MS = int(NOW.timestamp() * 1000) - 1000
DEVICE = "dev-1"
SITES = {DEVICE: "t1"}


def vitals(**fields: object) -> bytes:
    return json.dumps({"ts": TS_MS, "hr": 72, **fields}).encode()


def inbound(topic: str, payload: bytes) -> Inbound:
    return Inbound(topic=topic, payload=payload, received_at=NOW, mid=7)


def test_good_message_becomes_a_device_message() -> None:
    asked: list[str] = []

    def site_of(device_id: str) -> str | None:
        asked.append(device_id)
        return SITES.get(device_id)

    result = classify(inbound("carewatch/v1/t1/dev-1/vitals", vitals(seq=3)), site_of)
    ts = datetime.fromtimestamp(TS_MS / 1000, UTC)
    assert result == DeviceMessage(
        header=Header(site_id="t1", device_id=DEVICE, stream="vitals", ts=ts, seq=3),
        observations=(Vital(ts, "hr", 72.0, "vitals", DEVICE),),
    )
    assert asked == [DEVICE]


# (topic, payload, site_of's answer, reason, device_id of the dead letter)
DEAD: list[tuple[str, bytes, str | None, str, str | None]] = [
    ("carewatch/v1/t1/dev-1/vitals", vitals(), None, "unknown_device", DEVICE),
    ("carewatch/v1/t2/dev-1/vitals", vitals(), "t1", "topic_mismatch", DEVICE),
    ("carewatch/v1/t1/dev-1/vitals", vitals(hr=300), "t1", "out_of_range", DEVICE),
    ("carewatch/v1/t1/dev-1/vitals", b'{"ts": 1, "hr": ', "t1", "malformed_json", DEVICE),
    ("carewatch/v1/t1/dev-1/vitals", json.dumps({"hr": 72}).encode(), "t1", "missing_ts", DEVICE),
    ("carewatch/v1/t1/dev-1/weather", vitals(), "t1", "unknown_stream", DEVICE),
    ("carewatch/v1/t1/dev-1/vitals/extra", vitals(), "t1", "bad_topic", DEVICE),
    ("carewatch/v1/t1/bad id/vitals", vitals(), "t1", "bad_topic", None),
    ("somewhere/else", vitals(), "t1", "bad_topic", None),
]


@pytest.mark.parametrize(
    ("topic", "payload", "site", "reason", "device_id"),
    DEAD,
    ids=[
        "unknown-device",
        "site-mismatch",
        "codec-out-of-range",
        "codec-malformed-json",
        "codec-missing-ts",
        "unknown-stream",
        "extra-levels",
        "invalid-device-id",
        "foreign-topic",
    ],
)
def test_every_failure_becomes_a_dead_letter(
    topic: str, payload: bytes, site: str | None, reason: str, device_id: str | None
) -> None:
    result = classify(inbound(topic, payload), lambda _device: site)
    assert isinstance(result, DeadLetter)
    assert (result.reason, result.device_id, result.topic) == (reason, device_id, topic)
    assert result.received_at == NOW
    assert result.payload == payload
    assert result.detail


def test_site_mismatch_detail_names_both_sites() -> None:
    result = classify(inbound("carewatch/v1/t2/dev-1/vitals", vitals()), SITES.get)
    assert isinstance(result, DeadLetter)
    assert "'t1'" in result.detail and "'t2'" in result.detail


def test_oversized_payload_is_kept_whole_for_the_writer_to_truncate() -> None:
    payload = b'{"pad": "' + b"x" * 70_000 + b'"}'
    result = classify(inbound("carewatch/v1/t1/dev-1/motion", payload), SITES.get)
    assert isinstance(result, DeadLetter)
    assert result.reason == "oversized"
    assert result.payload == payload and len(result.payload) > 70_000


def test_limits_are_passed_to_the_codec() -> None:
    message = inbound("carewatch/v1/t1/dev-1/vitals", vitals())
    assert isinstance(classify(message, SITES.get), DeviceMessage)
    small = classify(message, SITES.get, Limits(max_payload_bytes=8))
    assert isinstance(small, DeadLetter) and small.reason == "oversized"


LONG_ID = "d" * 64
TOPICS: list[tuple[str, str | None]] = [
    ("carewatch/v1/t1/dev-1/vitals", "dev-1"),
    ("carewatch/v1/t1/dev-1/weather", "dev-1"),
    ("carewatch/v1/t1/dev-1/vitals/extra/levels", "dev-1"),
    ("carewatch/v1/t1/dev-1", "dev-1"),
    ("carewatch/v1/bad site!/dev-1/vitals", "dev-1"),
    (f"carewatch/v1/t1/{LONG_ID}/vitals", LONG_ID),
    (f"carewatch/v1/t1/{LONG_ID}x/vitals", None),
    ("carewatch/v1/t1", None),
    ("carewatch/v1/t1/", None),
    ("carewatch/v1/t1//vitals", None),
    ("carewatch/v1/t1/dev 1/vitals", None),
    ("carewatch/v1/t1/d\u00e9v/vitals", None),
    ("carewatch/v1/t1/+/vitals", None),
    ("carewatch/v2/t1/dev-1/vitals", None),
    ("other/v1/t1/dev-1/vitals", None),
    ("/carewatch/v1/t1/dev-1/vitals", None),
    ("", None),
    ("garbage", None),
]


@pytest.mark.parametrize(
    ("topic", "device_id"),
    TOPICS,
    ids=[
        "valid",
        "unknown-stream",
        "extra-levels",
        "no-stream-level",
        "invalid-site",
        "id-at-max-length",
        "id-too-long",
        "too-few-levels",
        "empty-device-level-at-end",
        "empty-device-level",
        "space-in-id",
        "non-ascii-id",
        "wildcard-id",
        "other-version",
        "other-prefix",
        "leading-slash",
        "empty",
        "garbage",
    ],
)
def test_topic_device(topic: str, device_id: str | None) -> None:
    assert topic_device(topic) == device_id


# --- retained messages (issue 13, item 9) --------------------------------------------------


def retained(topic: str, payload: bytes) -> Inbound:
    return Inbound(topic=topic, payload=payload, received_at=NOW, retained=True)


@pytest.mark.parametrize(
    "topic",
    [
        "carewatch/v1/t1/dev-1/vitals",  # a valid reading, but retained
        "carewatch/v1/t1/dev-1/event",
        "carewatch/v1/t1/dev-1/status/x",  # a sub-topic of its own
        "carewatch/v1/t1/dev-1/anything",
    ],
)
def test_only_status_may_be_retained(topic: str) -> None:
    result = classify(retained(topic, vitals()), SITES.get)
    assert isinstance(result, DeadLetter) and result.reason == "retained"
    assert result.device_id == DEVICE


def test_a_retained_status_is_capped() -> None:
    small = json.dumps({"ts": TS_MS, "online": True, "battery": 80}).encode()
    assert not isinstance(classify(retained("carewatch/v1/t1/dev-1/status", small), SITES.get),
                          DeadLetter)  # fmt: skip
    big = json.dumps({"ts": TS_MS, "online": True, "pad": "x" * 5000}).encode()
    result = classify(retained("carewatch/v1/t1/dev-1/status", big), SITES.get)
    assert isinstance(result, DeadLetter) and result.reason == "retained"
    assert "> 4096" in result.detail
    # The same status, not retained, is only bound by the payload limit.
    assert not isinstance(classify(inbound("carewatch/v1/t1/dev-1/status", big), SITES.get),
                          DeadLetter)  # fmt: skip


def test_a_truncated_retained_message_counts_its_real_size() -> None:
    huge = Inbound.received(
        "carewatch/v1/t1/dev-1/status", b"{" + b" " * 900_000, NOW,
        max_payload_bytes=65536, retained=True,
    )  # fmt: skip
    result = classify(huge, SITES.get)
    assert isinstance(result, DeadLetter) and result.reason == "retained"
    assert "900001 bytes" in result.detail


def test_an_empty_retained_message_is_a_clear() -> None:
    assert retained("carewatch/v1/t1/dev-1/vitals", b"").is_clear
    assert not inbound("carewatch/v1/t1/dev-1/vitals", b"").is_clear
    assert not retained("carewatch/v1/t1/dev-1/status", b"{}").is_clear
