"""Tests for ingest.topic: parsing and building protocol v1 device topics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import Rejected
from ingest.readings import Topic
from ingest.topic import parse_topic
from rules.vocabulary import STREAMS, TOPIC_PREFIX, Stream, device_topic, is_valid_id

ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)

VALID = [
    ("carewatch/v1/site-1/dev_01/vitals", Topic("site-1", "dev_01", "vitals")),
    ("carewatch/v1/S/D/fhir", Topic("S", "D", "fhir")),
    ("carewatch/v1/-/_/status", Topic("-", "_", "status")),
    (f"carewatch/v1/{'s' * 64}/{'d' * 64}/motion", Topic("s" * 64, "d" * 64, "motion")),
]

BAD = [
    ("", "empty"),
    ("carewatch/v1/site/dev", "too-few-levels"),
    ("carewatch/v1/site/dev/vitals/extra", "extra-level"),
    ("carewatch/v1/site/dev/vitals/", "trailing-slash"),
    ("/carewatch/v1/site/dev/vitals", "leading-slash"),
    ("carewatch/v2/site/dev/vitals", "other-version"),
    ("CareWatch/v1/site/dev/vitals", "prefix-case"),
    ("carewatch/v1//dev/vitals", "empty-site"),
    ("carewatch/v1/site//vitals", "empty-device"),
    ("carewatch/v1/site/dev/", "empty-stream"),
    ("carewatch/v1/+/dev/vitals", "plus-wildcard"),
    ("carewatch/v1/site/#", "hash-wildcard"),
    ("carewatch/v1/site/dev/#", "hash-stream"),
    ("carewatch/v1/site/../vitals", "dot-dot"),
    ("carewatch/v1/site/de.v/vitals", "dot-in-id"),
    ("carewatch/v1/site/dev ice/vitals", "space-in-id"),
    ("carewatch/v1/sité/dev/vitals", "non-ascii-site"),
    ("carewatch/v1/site/dev\u0661/vitals", "non-ascii-digit"),
    ("carewatch/v1/site/dev\x00/vitals", "nul"),
    ("carewatch/v1/site/dev\n/vitals", "newline"),
    (f"carewatch/v1/{'s' * 65}/dev/vitals", "site-65-chars"),
    (f"carewatch/v1/site/{'d' * 65}/vitals", "device-65-chars"),
    ("carewatch/v1/site/dev/vitals\n", "trailing-newline"),
]


@pytest.mark.parametrize(("topic", "expected"), VALID, ids=[t for t, _ in VALID])
def test_parse_topic_valid(topic: str, expected: Topic) -> None:
    assert parse_topic(topic) == expected


@pytest.mark.parametrize("topic", [t for t, _ in BAD], ids=[i for _, i in BAD])
def test_parse_topic_bad(topic: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_topic(topic)
    assert caught.value.reason == "bad_topic"


@pytest.mark.parametrize("stream", ["ecg", "Vitals", "vitals2", "_"])
def test_parse_topic_unknown_stream(stream: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_topic(f"carewatch/v1/site/dev/{stream}")
    assert caught.value.reason == "unknown_stream"


def test_parse_topic_detail_is_bounded() -> None:
    with pytest.raises(Rejected) as caught:
        parse_topic("carewatch/v1/" + "x" * 100_000)
    assert len(caught.value.detail) <= 200


@pytest.mark.parametrize("stream", STREAMS)
def test_device_topic_builds_what_parse_reads(stream: Stream) -> None:
    topic = device_topic("site-1", "dev-1", stream)
    assert topic == f"{TOPIC_PREFIX}/site-1/dev-1/{stream}"
    assert parse_topic(topic) == Topic("site-1", "dev-1", stream)


@pytest.mark.parametrize(
    ("site_id", "device_id", "stream"),
    [
        ("", "dev", "vitals"),
        ("site", "+", "vitals"),
        ("site", "a/b", "vitals"),
        ("s" * 65, "dev", "vitals"),
        ("site", "dev", "ecg"),
    ],
    ids=["empty-site", "wildcard-device", "slash-device", "long-site", "unknown-stream"],
)
def test_device_topic_rejects_invalid_parts(site_id: str, device_id: str, stream: Stream) -> None:
    with pytest.raises(ValueError, match=r"invalid|unknown"):
        device_topic(site_id, device_id, stream)


@pytest.mark.parametrize(
    ("value", "valid"),
    [("a", True), ("A-z_09", True), ("x" * 64, True), ("", False), ("x" * 65, False)],
    ids=["one-char", "mixed", "64-chars", "empty", "65-chars"],
)
def test_is_valid_id(value: str, valid: bool) -> None:
    assert is_valid_id(value) is valid


@settings(max_examples=200, deadline=None, database=None)
@given(site_id=ids, device_id=ids, stream=st.sampled_from(STREAMS))
def test_device_topic_round_trips(site_id: str, device_id: str, stream: Stream) -> None:
    topic = device_topic(site_id, device_id, stream)
    assert parse_topic(topic) == Topic(site_id, device_id, stream)


@settings(max_examples=300, deadline=None, database=None)
@given(topic=st.text(max_size=200))
def test_parse_topic_only_raises_rejected(topic: str) -> None:
    try:
        parsed = parse_topic(topic)
    except Rejected as exc:
        assert exc.reason in ("bad_topic", "unknown_stream")
    else:
        assert device_topic(parsed.site_id, parsed.device_id, parsed.stream) == topic
