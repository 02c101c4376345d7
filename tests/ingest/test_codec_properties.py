"""Property tests for ingest.codec: any input gives a reading or Rejected, and vitals round-trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.codec import decode
from ingest.errors import REJECT_REASONS, Rejected
from ingest.readings import DeviceMessage
from rules.types import Vital
from rules.vocabulary import STREAMS

NOW = datetime(2025, 3, 1, 4, 0, 0, tzinfo=UTC)
NOW_MS = 1_740_801_600_000
VALID_TS = st.one_of(
    st.integers(min_value=0, max_value=NOW_MS + 300_000),
    st.just("2025-03-01T11:59:58.250+08:00"),
    st.just("2025-03-01T03:59:58Z"),
)
TOPICS = st.sampled_from([f"carewatch/v1/site-1/dev-1/{stream}" for stream in STREAMS])
CODEC_REASONS = set(REJECT_REASONS) - {"topic_mismatch", "unknown_device"}
# Every field name the codec reads, so generated objects hit real validation paths.
FIELDS = [
    "ts", "seq", "hr", "spo2", "rr", "temp", "sbp", "dbp", "on_o2", "occupied", "movement",
    "hz", "ax", "ay", "az", "type", "zone", "confidence", "battery", "online", "rssi", "fw",
    "resourceType", "status", "code", "coding", "system", "effectiveDateTime", "valueQuantity",
    "value", "unit", "comparator", "component",
]  # fmt: skip

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and inf become NaN/Infinity literals: malformed on purpose
    st.text(max_size=20),
    st.sampled_from(["fall", "Observation", "final", "http://loinc.org", "8867-4", "/min"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=25,
)

PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def decodes_or_rejects(topic: str, payload: bytes) -> None:
    """The contract: a reading of the topic's stream, or Rejected with a codec reason."""
    try:
        message = decode(topic, payload, received_at=NOW)
    except Rejected as exc:
        assert exc.reason in CODEC_REASONS
        assert len(exc.detail) <= 200
    else:
        assert isinstance(message, DeviceMessage) and message.observations
        assert all(obs.ts == message.header.ts for obs in message.observations)
        assert message.header.stream == topic.rsplit("/", 1)[1]
        assert message.header.ts.tzinfo is UTC
        assert message.header.ts - NOW <= timedelta(minutes=5)


@PROPERTY_SETTINGS
@given(topic=TOPICS, payload=st.binary(max_size=300))
def test_arbitrary_bytes(topic: str, payload: bytes) -> None:
    decodes_or_rejects(topic, payload)


@PROPERTY_SETTINGS
@given(topic=TOPICS, value=json_values)
def test_arbitrary_json_value(topic: str, value: Any) -> None:
    decodes_or_rejects(topic, json.dumps(value).encode())


@PROPERTY_SETTINGS
@given(
    topic=TOPICS,
    ts=VALID_TS,
    fields=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8),
)
def test_arbitrary_fields_with_valid_ts(topic: str, ts: object, fields: dict[str, Any]) -> None:
    decodes_or_rejects(topic, json.dumps({"ts": ts, **fields}).encode())


@PROPERTY_SETTINGS
@given(topic=TOPICS, text=st.text(max_size=200))
def test_arbitrary_text(topic: str, text: str) -> None:
    decodes_or_rejects(topic, text.encode("utf-8", "surrogatepass"))


# One valid payload per stream; the mutation test below breaks them one field at a time.
VALID_PAYLOADS: dict[str, dict[str, Any]] = {
    "vitals": {"ts": 0, "seq": 1, "hr": 72, "spo2": 97, "on_o2": False},
    "bed": {"ts": 0, "occupied": True, "movement": 0.5},
    "motion": {"ts": 0, "hz": 50, "ax": [0, 1], "ay": [0, 1], "az": [1, 1]},
    "event": {"ts": 0, "type": "fall", "zone": "hall", "confidence": 0.5},
    "status": {"battery": 50, "online": True, "rssi": -60, "fw": "1.0"},
    "fhir": {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "effectiveDateTime": "2025-03-01T03:59:58Z",
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": 120, "unit": "mm[Hg]"},
            }
        ],
    },
}


def _mutate(obj: Any, path: list[int], replacement: Any) -> Any:
    """Replace (or, for a None replacement in an object, delete) one node picked by `path`."""
    if not path or not isinstance(obj, dict | list) or not obj:
        return replacement
    keys = list(obj) if isinstance(obj, dict) else list(range(len(obj)))
    key = keys[path[0] % len(keys)]
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    child = _mutate(copy[key], path[1:], replacement)
    if child is None and isinstance(copy, dict):
        del copy[key]
    else:
        copy[key] = child
    return copy


@PROPERTY_SETTINGS
@given(
    stream=st.sampled_from(STREAMS),
    path=st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=6),
    replacement=json_values,
)
def test_mutated_valid_payloads(stream: str, path: list[int], replacement: Any) -> None:
    mutated = _mutate(VALID_PAYLOADS[stream], path, replacement)
    decodes_or_rejects(f"carewatch/v1/s/d/{stream}", json.dumps(mutated).encode())


def test_unmutated_payloads_are_valid() -> None:
    for stream, payload in VALID_PAYLOADS.items():
        decode(f"carewatch/v1/s/d/{stream}", json.dumps(payload).encode(), received_at=NOW)


def _number(lo: float, hi: float) -> st.SearchStrategy[float | int]:
    return st.one_of(
        st.floats(min_value=lo, max_value=hi), st.integers(min_value=int(lo), max_value=int(hi))
    )


VITALS = st.fixed_dictionaries(
    {},
    optional={
        "hr": _number(20, 250),
        "spo2": _number(50, 100),
        "rr": _number(3, 70),
        "temp": _number(30, 43),
        "sbp": _number(50, 260),
        "dbp": _number(20, 200),
        "on_o2": st.booleans(),
    },
).filter(bool)


@PROPERTY_SETTINGS
@given(
    vitals=VITALS,
    ts=VALID_TS,
    seq=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    extra=st.dictionaries(
        st.text(max_size=8).filter(lambda key: key not in FIELDS),
        st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
        max_size=3,
    ),
)
def test_valid_vitals_round_trip(
    vitals: dict[str, Any], ts: object, seq: int | None, extra: dict[str, Any]
) -> None:
    obj = {**extra, **vitals, "ts": ts} | ({} if seq is None else {"seq": seq})
    message = decode("carewatch/v1/s/d/vitals", json.dumps(obj).encode(), received_at=NOW)
    assert message.header.seq == seq
    expected = {name: float(value) for name, value in vitals.items()}
    readings = message.observations
    assert all(type(v) is Vital and type(v.value) is float for v in readings)
    assert {v.metric: v.value for v in readings if isinstance(v, Vital)} == expected
    assert len(readings) == len(vitals)
