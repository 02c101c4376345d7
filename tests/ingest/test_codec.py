"""Tests for ingest.codec: one case per stream's happy path and per reject reason it decides."""

from __future__ import annotations

import json
import pickle
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation as FhirObservation

from ingest.codec import DEFAULT_LIMITS, Limits, decode
from ingest.errors import REJECT_REASONS, IngestError, Rejected
from ingest.readings import DeviceMessage, Header
from rules.types import DeviceEvent, DeviceStatus, Motion, Vital
from rules.vocabulary import DeviceEventType, Stream

NOW = datetime(2025, 3, 1, 4, 0, 0, tzinfo=UTC)
TS = "2025-03-01T11:59:58.250+08:00"  # NOW - 1.75 s, written with an offset
TS_UTC = datetime(2025, 3, 1, 3, 59, 58, 250_000, tzinfo=UTC)
TS_MS = 1_740_801_598_250  # the same instant in epoch milliseconds

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def topic(stream: str) -> str:
    return f"carewatch/v1/site-1/dev-1/{stream}"


def body(**fields: Any) -> bytes:
    """A payload with the standard `ts` unless the fields say otherwise (None drops a key)."""
    obj = {"ts": TS, **fields}
    return json.dumps({k: v for k, v in obj.items() if v is not None}).encode()


def header(stream: Stream, *, ts: datetime = TS_UTC, seq: int | None = None) -> Header:
    return Header(site_id="site-1", device_id="dev-1", stream=stream, ts=ts, seq=seq)


def numeric(stream: Stream, *pairs: tuple[str, float], seq: int | None = None) -> DeviceMessage:
    """A numeric message: one `Vital` per (metric, value), with the header's time and device."""
    h = header(stream, seq=seq)
    source: Any = stream
    return DeviceMessage(h, tuple(Vital(h.ts, m, v, source, h.device_id) for m, v in pairs))


def motion(
    h: Header, hz: float, ax: tuple[float, ...], ay: tuple[float, ...], az: tuple[float, ...]
) -> DeviceMessage:
    return DeviceMessage(h, (Motion(h.ts, h.device_id, hz, ax, ay, az),))


def event(
    h: Header, type: DeviceEventType, zone: str | None, confidence: float | None
) -> DeviceMessage:
    return DeviceMessage(h, (DeviceEvent(h.ts, h.device_id, type, zone, confidence),))


def status(
    h: Header, battery: float | None, online: bool | None, rssi: float | None, fw: str | None
) -> DeviceMessage:
    return DeviceMessage(h, (DeviceStatus(h.ts, h.device_id, battery, online, rssi, fw),))


def measured(message: DeviceMessage) -> list[tuple[str, float]]:
    """A numeric message's (metric, value) pairs, in order."""
    assert all(isinstance(obs, Vital) for obs in message.observations)
    return [(obs.metric, obs.value) for obs in message.observations if isinstance(obs, Vital)]


def rejected(stream_or_topic: str, payload: bytes, limits: Limits = DEFAULT_LIMITS) -> Rejected:
    where = stream_or_topic if "/" in stream_or_topic else topic(stream_or_topic)
    with pytest.raises(Rejected) as caught:
        decode(where, payload, received_at=NOW, limits=limits)
    return caught.value


# --- FHIR examples (also checked against fhir.resources below) -----------------------------


def quantity(value: float, code: str, unit: str | None = None) -> dict[str, Any]:
    return {"value": value, "unit": unit or code, "system": UCUM, "code": code}


def observation(
    codes: list[str], value: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "obs-1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code} for code in codes]},
        "subject": {"reference": "Patient/r-1"},
        "effectiveDateTime": TS,
    }
    if value is not None:
        obs["valueQuantity"] = value
    obs.update(extra)
    return obs


def bp_panel(sbp: float | None, dbp: float | None, unit: str = "mm[Hg]") -> dict[str, Any]:
    parts = [("8480-6", sbp), ("8462-4", dbp)]
    return observation(
        ["85354-9"],
        component=[
            {
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "valueQuantity": quantity(v, unit),
            }
            for code, v in parts
            if v is not None
        ],
    )


FHIR_VALID: list[tuple[str, dict[str, Any], tuple[tuple[str, float], ...]]] = [
    ("hr", observation(["8867-4"], quantity(72, "/min", "beats/minute")), (("hr", 72.0),)),
    ("spo2-2708", observation(["2708-6"], quantity(97, "%")), (("spo2", 97.0),)),
    (
        "spo2-both-codes",
        observation(["2708-6", "59408-5"], quantity(95.5, "%")),
        (("spo2", 95.5),),
    ),
    ("rr", observation(["9279-1"], quantity(16, "/min", "breaths/minute")), (("rr", 16.0),)),
    ("temp-cel", observation(["8310-5"], quantity(36.8, "Cel", "C")), (("temp", 36.8),)),
    ("temp-degf", observation(["8310-5"], quantity(98.6, "[degF]", "F")), (("temp", 37.0),)),
    ("bp-panel", bp_panel(128, 82), (("sbp", 128.0), ("dbp", 82.0))),
    ("bp-panel-sbp-only", bp_panel(128, None), (("sbp", 128.0),)),
    (
        "unit-text-without-code",
        observation(["8867-4"], {"value": 60, "unit": "/min"}),
        (("hr", 60.0),),
    ),
    (
        "extra-non-loinc-coding",
        observation(["8867-4"], quantity(72, "/min"))
        | {
            "code": {
                "coding": [
                    {"system": "http://snomed.info/sct", "code": "364075005"},
                    {"system": LOINC, "code": "8867-4"},
                ]
            }
        },
        (("hr", 72.0),),
    ),
]


@pytest.mark.parametrize(
    "resource", [r for _, r, _ in FHIR_VALID], ids=[name for name, _, _ in FHIR_VALID]
)
def test_fhir_examples_are_real_fhir_r4(resource: dict[str, Any]) -> None:
    FhirObservation.model_validate(resource)


@pytest.mark.parametrize(
    ("resource", "pairs"),
    [(r, p) for _, r, p in FHIR_VALID],
    ids=[name for name, _, _ in FHIR_VALID],
)
def test_decode_fhir(resource: dict[str, Any], pairs: tuple[tuple[str, float], ...]) -> None:
    message = decode(topic("fhir"), json.dumps(resource).encode(), received_at=NOW)
    assert message.header == header("fhir")
    got = measured(message)
    assert [metric for metric, _ in got] == [metric for metric, _ in pairs]
    for (_, value), (_, want) in zip(got, pairs, strict=True):
        assert value == pytest.approx(want)


# --- happy paths -----------------------------------------------------------------------------

HAPPY: list[tuple[str, str, bytes, DeviceMessage]] = [
    (
        "vitals-all",
        "vitals",
        body(seq=7, hr=72, spo2=97.5, rr=16, temp=36.8, sbp=128, dbp=82, on_o2=True),
        numeric(
            "vitals",
            ("hr", 72.0),
            ("spo2", 97.5),
            ("rr", 16.0),
            ("temp", 36.8),
            ("sbp", 128.0),
            ("dbp", 82.0),
            ("on_o2", 1.0),
            seq=7,
        ),
    ),
    ("vitals-one", "vitals", body(hr=60.5), numeric("vitals", ("hr", 60.5))),
    ("vitals-on-o2-only", "vitals", body(on_o2=False), numeric("vitals", ("on_o2", 0.0))),
    (
        "vitals-key-order-irrelevant",
        "vitals",
        b'{"dbp": 80, "hr": 70, "ts": "' + TS.encode() + b'"}',
        numeric("vitals", ("hr", 70.0), ("dbp", 80.0)),
    ),
    (
        "vitals-unknown-fields-ignored",
        "vitals",
        body(hr=70, firmware_extra={"nested": [1, None, "x"]}, ecg=[1, 2, 3]),
        numeric("vitals", ("hr", 70.0)),
    ),
    (
        "vitals-null-is-absent",
        "vitals",
        b'{"ts": "' + TS.encode() + b'", "hr": 70, "spo2": null, "seq": null}',
        numeric("vitals", ("hr", 70.0)),
    ),
    (
        "bed-all",
        "bed",
        body(seq=0, occupied=True, hr=58, rr=12, movement=0.25),
        numeric("bed", ("occupied", 1.0), ("hr", 58.0), ("rr", 12.0), ("movement", 0.25), seq=0),
    ),
    ("bed-empty-bed", "bed", body(occupied=False), numeric("bed", ("occupied", 0.0))),
    (
        "motion",
        "motion",
        body(seq=2**63 - 1, hz=50, ax=[0, 0.5, -1], ay=[1, 1, 1], az=[-64, 64, 9.81]),
        motion(
            h=header("motion", seq=2**63 - 1),
            hz=50.0,
            ax=(0.0, 0.5, -1.0),
            ay=(1.0, 1.0, 1.0),
            az=(-64.0, 64.0, 9.81),
        ),
    ),
    (
        "event-full",
        "event",
        body(type="zone_exit", zone="Garden gate 2", confidence=0.75),
        event(h=header("event"), type="zone_exit", zone="Garden gate 2", confidence=0.75),
    ),
    (
        "event-type-only",
        "event",
        body(type="fall"),
        event(h=header("event"), type="fall", zone=None, confidence=None),
    ),
    (
        "status-full",
        "status",
        body(battery=81, online=True, rssi=-67, fw="1.4.2-rc1"),
        status(h=header("status"), battery=81.0, online=True, rssi=-67.0, fw="1.4.2-rc1"),
    ),
    (
        "status-last-will-without-ts",
        "status",
        b'{"online": false}',
        status(h=header("status", ts=NOW), battery=None, online=False, rssi=None, fw=None),
    ),
    (
        "status-empty-with-ts",
        "status",
        body(),
        status(h=header("status"), battery=None, online=None, rssi=None, fw=None),
    ),
]


@pytest.mark.parametrize(
    ("stream", "payload", "expected"),
    [(s, p, e) for _, s, p, e in HAPPY],
    ids=[name for name, _, _, _ in HAPPY],
)
def test_decode_happy_path(stream: str, payload: bytes, expected: DeviceMessage) -> None:
    assert decode(topic(stream), payload, received_at=NOW) == expected


def test_decoded_values_are_floats() -> None:
    message = decode(topic("vitals"), body(hr=72), received_at=NOW)
    assert type(measured(message)[0][1]) is float


# --- timestamps ----------------------------------------------------------------------------

TIMESTAMPS: list[tuple[str, object, datetime]] = [
    ("epoch-ms", TS_MS, TS_UTC),
    ("epoch-ms-zero", 0, datetime(1970, 1, 1, tzinfo=UTC)),
    ("rfc3339-offset", TS, TS_UTC),
    ("rfc3339-z", "2025-03-01T03:59:58.25Z", TS_UTC),
    ("rfc3339-lowercase", "2025-03-01t03:59:58.25z", TS_UTC),
    ("rfc3339-space", "2025-03-01 03:59:58.25+00:00", TS_UTC),
    ("rfc3339-negative-offset", "2025-02-28T22:59:58.25-05:00", TS_UTC),
    ("rfc3339-unknown-offset", "2025-03-01T03:59:58.25-00:00", TS_UTC),
    ("rfc3339-no-fraction", "2025-03-01T03:59:58Z", TS_UTC.replace(microsecond=0)),
    ("rfc3339-nanoseconds", "2025-03-01T03:59:58.250000999Z", TS_UTC),
    ("at-max-future", "2025-03-01T04:05:00Z", NOW + timedelta(minutes=5)),
]


@pytest.mark.parametrize(
    ("raw", "expected"), [(r, e) for _, r, e in TIMESTAMPS], ids=[n for n, _, _ in TIMESTAMPS]
)
def test_ts_is_normalised_to_utc(raw: object, expected: datetime) -> None:
    message = decode(topic("vitals"), body(ts=raw, hr=70), received_at=NOW)
    assert message.header.ts == expected
    assert message.header.ts.utcoffset() == timedelta(0)


def test_received_at_in_another_zone_is_normalised() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=8)))
    message = decode(topic("status"), b'{"online": false}', received_at=local)
    assert message.header.ts == NOW
    assert message.header.ts.tzinfo is UTC


def test_naive_received_at_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decode(topic("vitals"), body(hr=70), received_at=NOW.replace(tzinfo=None))


def test_max_future_comes_from_limits() -> None:
    payload = body(ts="2025-03-01T04:00:30Z", hr=70)
    assert decode(topic("vitals"), payload, received_at=NOW).header.ts > NOW
    strict = Limits(max_future=timedelta(seconds=10))
    assert rejected("vitals", payload, strict).reason == "future_ts"


# --- rejections ----------------------------------------------------------------------------

DEEP = b"[" * 60_000  # under the 64 KiB limit
NESTED_FIELD = b'{"ts": 0, "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"

REJECTS: list[tuple[str, str, bytes, str]] = [
    # oversized: checked before anything else, even the topic.
    ("oversized", "vitals", b" " * 65_537, "oversized"),
    ("oversized-before-topic", "carewatch/v1/+/#", b"x" * 65_537, "oversized"),
    # topic
    ("bad-topic", "carewatch/v1/site/+/vitals", body(hr=70), "bad_topic"),
    ("bad-topic-extra-level", "carewatch/v1/s/d/vitals/x", body(hr=70), "bad_topic"),
    ("unknown-stream", "ecg", body(hr=70), "unknown_stream"),
    # malformed_json
    ("empty-payload", "vitals", b"", "malformed_json"),
    ("not-json", "vitals", b"{hr: 70}", "malformed_json"),
    ("truncated", "vitals", b'{"ts": 0, "hr": 7', "malformed_json"),
    ("invalid-utf8", "vitals", b'{"ts": 0, "zone": "\xff"}', "malformed_json"),
    ("utf8-bom", "vitals", b"\xef\xbb\xbf" + body(hr=70), "malformed_json"),
    ("utf16", "vitals", body(hr=70).decode().encode("utf-16"), "malformed_json"),
    ("nan-literal", "vitals", b'{"ts": 0, "hr": NaN}', "malformed_json"),
    ("infinity-literal", "vitals", b'{"ts": 0, "hr": Infinity}', "malformed_json"),
    ("minus-infinity-literal", "vitals", b'{"ts": 0, "hr": -Infinity}', "malformed_json"),
    ("nan-in-ignored-field", "vitals", b'{"ts": 0, "hr": 70, "x": NaN}', "malformed_json"),
    ("huge-integer-literal", "vitals", b'{"ts": 0, "hr": 1' + b"0" * 5000 + b"}", "malformed_json"),
    ("deep-array", "vitals", DEEP, "malformed_json"),
    ("deep-in-field", "vitals", NESTED_FIELD, "malformed_json"),
    ("top-level-array", "vitals", b'[{"ts": 0, "hr": 70}]', "malformed_json"),
    ("top-level-string", "vitals", b'"hr"', "malformed_json"),
    ("top-level-number", "vitals", b"70", "malformed_json"),
    ("top-level-null", "status", b"null", "malformed_json"),
    ("trailing-garbage", "vitals", body(hr=70) + b"x", "malformed_json"),
    # missing_ts
    ("vitals-no-ts", "vitals", body(ts=None, hr=70), "missing_ts"),
    ("vitals-null-ts", "vitals", b'{"ts": null, "hr": 70}', "missing_ts"),
    ("bed-no-ts", "bed", body(ts=None, occupied=True), "missing_ts"),
    ("motion-no-ts", "motion", body(ts=None, hz=50, ax=[0], ay=[0], az=[1]), "missing_ts"),
    ("event-no-ts", "event", body(ts=None, type="sos"), "missing_ts"),
    (
        "fhir-no-effective",
        "fhir",
        json.dumps(observation(["8867-4"], quantity(72, "/min"), effectiveDateTime=None)).encode(),
        "missing_ts",
    ),
    # invalid_field: ts and seq
    ("ts-float", "vitals", body(ts=1740801598250.0, hr=70), "invalid_field"),
    ("ts-bool", "vitals", body(ts=True, hr=70), "invalid_field"),
    ("ts-object", "vitals", body(ts={"ms": 1}, hr=70), "invalid_field"),
    ("ts-naive", "vitals", body(ts="2025-03-01T03:59:58", hr=70), "invalid_field"),
    ("ts-date-only", "vitals", body(ts="2025-03-01", hr=70), "invalid_field"),
    ("ts-basic-iso", "vitals", body(ts="20250301T035958Z", hr=70), "invalid_field"),
    ("ts-garbage", "vitals", body(ts="yesterday", hr=70), "invalid_field"),
    ("ts-epoch-as-string", "vitals", body(ts=str(TS_MS), hr=70), "invalid_field"),
    ("ts-non-ascii-digits", "vitals", body(ts="٢٠٢٥-03-01T03:59:58Z", hr=70), "invalid_field"),
    ("ts-month-13", "vitals", body(ts="2025-13-01T03:59:58Z", hr=70), "invalid_field"),
    ("ts-leap-second", "vitals", body(ts="2016-12-31T23:59:60Z", hr=70), "invalid_field"),
    ("ts-offset-24h", "vitals", body(ts="2025-03-01T03:59:58+24:00", hr=70), "invalid_field"),
    ("ts-overflows-utc", "vitals", body(ts="0001-01-01T00:00:00+01:00", hr=70), "invalid_field"),
    ("ts-epoch-overflow", "vitals", body(ts=10**20, hr=70), "invalid_field"),
    ("seq-negative", "vitals", body(seq=-1, hr=70), "invalid_field"),
    ("seq-float", "vitals", body(seq=1.0, hr=70), "invalid_field"),
    ("seq-bool", "vitals", body(seq=True, hr=70), "invalid_field"),
    ("seq-string", "vitals", body(seq="1", hr=70), "invalid_field"),
    ("seq-over-int64", "vitals", body(seq=2**63, hr=70), "invalid_field"),
    # invalid_field: vitals and bed
    ("hr-string", "vitals", body(hr="72"), "invalid_field"),
    ("hr-bool", "vitals", body(hr=True), "invalid_field"),
    ("hr-array", "vitals", body(hr=[72]), "invalid_field"),
    ("on-o2-int", "vitals", body(on_o2=1), "invalid_field"),
    ("vitals-no-measurement", "vitals", body(), "invalid_field"),
    ("vitals-only-unknown", "vitals", body(pulse=72), "invalid_field"),
    ("bed-no-measurement", "bed", body(), "invalid_field"),
    ("bed-occupied-string", "bed", body(occupied="yes"), "invalid_field"),
    ("bed-movement-bool", "bed", body(movement=False), "invalid_field"),
    # invalid_field: motion
    ("motion-no-hz", "motion", body(ax=[0], ay=[0], az=[1]), "invalid_field"),
    ("motion-no-az", "motion", body(hz=50, ax=[0], ay=[0]), "invalid_field"),
    ("motion-unequal", "motion", body(hz=50, ax=[0, 1], ay=[0], az=[1, 1]), "invalid_field"),
    ("motion-empty", "motion", body(hz=50, ax=[], ay=[], az=[]), "invalid_field"),
    ("motion-not-array", "motion", body(hz=50, ax=0, ay=0, az=1), "invalid_field"),
    ("motion-string-sample", "motion", body(hz=50, ax=["0"], ay=[0], az=[1]), "invalid_field"),
    ("motion-bool-sample", "motion", body(hz=50, ax=[True], ay=[0], az=[1]), "invalid_field"),
    ("motion-null-sample", "motion", body(hz=50, ax=[None], ay=[0], az=[1]), "invalid_field"),
    ("motion-hz-string", "motion", body(hz="50", ax=[0], ay=[0], az=[1]), "invalid_field"),
    (
        "motion-too-long",
        "motion",
        body(hz=50, ax=[0] * 4097, ay=[0] * 4097, az=[1] * 4097),
        "invalid_field",
    ),
    # invalid_field: event and status
    ("event-no-type", "event", body(zone="hall"), "invalid_field"),
    ("event-unknown-type", "event", body(type="earthquake"), "invalid_field"),
    ("event-type-case", "event", body(type="FALL"), "invalid_field"),
    ("event-zone-65-chars", "event", body(type="zone_exit", zone="z" * 65), "invalid_field"),
    ("event-zone-number", "event", body(type="zone_exit", zone=3), "invalid_field"),
    ("event-zone-nul", "event", body(type="zone_exit", zone="hall\u0000"), "invalid_field"),
    (
        "event-zone-surrogate",
        "event",
        b'{"ts": 0, "type": "sos", "zone": "\\ud800"}',
        "invalid_field",
    ),
    ("event-confidence-string", "event", body(type="fall", confidence="high"), "invalid_field"),
    ("status-online-string", "status", body(online="yes"), "invalid_field"),
    ("status-online-int", "status", b'{"online": 0}', "invalid_field"),
    ("status-fw-65-chars", "status", body(fw="1" * 65), "invalid_field"),
    ("status-fw-newline", "status", body(fw="1.0\nX"), "invalid_field"),
    ("status-battery-bool", "status", body(battery=True), "invalid_field"),
    ("status-ts-float", "status", body(ts=1.5, online=True), "invalid_field"),
    # future_ts
    ("future-rfc3339", "vitals", body(ts="2025-03-01T04:05:00.001Z", hr=70), "future_ts"),
    ("future-epoch-ms", "vitals", body(ts=TS_MS + 1_750 + 300_001, hr=70), "future_ts"),
    ("future-status", "status", body(ts="2030-01-01T00:00:00Z", online=True), "future_ts"),
    # out_of_range beyond the boundary table below
    ("hr-1e999", "vitals", b'{"ts": 0, "hr": 1e999}', "out_of_range"),
    ("hr-minus-1e999", "vitals", b'{"ts": 0, "hr": -1e999}', "out_of_range"),
    ("hr-integer-beyond-float", "vitals", b'{"ts": 0, "hr": 1' + b"0" * 400 + b"}", "out_of_range"),
    ("hr-negative", "vitals", body(hr=-72), "out_of_range"),
    (
        "motion-sample-high",
        "motion",
        body(hz=50, ax=[0, 64.1], ay=[0, 0], az=[1, 1]),
        "out_of_range",
    ),
    ("motion-sample-low", "motion", body(hz=50, ax=[0], ay=[-64.1], az=[1]), "out_of_range"),
    (
        "motion-sample-inf",
        "motion",
        b'{"ts": 0, "hz": 50, "ax": [0], "ay": [0], "az": [1e999]}',
        "out_of_range",
    ),
    (
        "motion-samples-inf-cancel",
        "motion",
        b'{"ts": 0, "hz": 50, "ax": [1e999, -1e999], "ay": [0, 0], "az": [1, 1]}',
        "out_of_range",
    ),
    (
        "motion-hz-inf",
        "motion",
        b'{"ts": 0, "hz": 1e999, "ax": [0], "ay": [0], "az": [1]}',
        "out_of_range",
    ),
]


def _fhir_reject(name: str, resource: dict[str, Any], reason: str) -> tuple[str, str, bytes, str]:
    return (f"fhir-{name}", "fhir", json.dumps(resource).encode(), reason)


def _hr(**changes: Any) -> dict[str, Any]:
    return observation(["8867-4"], quantity(72, "/min")) | changes


REJECTS += [
    _fhir_reject("not-observation", _hr(resourceType="Patient"), "invalid_field"),
    _fhir_reject("no-resource-type", _hr(resourceType=None), "invalid_field"),
    _fhir_reject("entered-in-error", _hr(status="entered-in-error"), "invalid_field"),
    _fhir_reject("no-code", {k: v for k, v in _hr().items() if k != "code"}, "invalid_field"),
    _fhir_reject("coding-not-list", _hr(code={"coding": {"code": "8867-4"}}), "invalid_field"),
    _fhir_reject(
        "unsupported-loinc", observation(["8302-2"], quantity(170, "cm")), "invalid_field"
    ),
    _fhir_reject(
        "code-without-loinc-system",
        _hr(code={"coding": [{"system": "http://snomed.info/sct", "code": "8867-4"}]}),
        "invalid_field",
    ),
    _fhir_reject(
        "two-metrics", observation(["8867-4", "9279-1"], quantity(16, "/min")), "invalid_field"
    ),
    _fhir_reject("no-value", observation(["8867-4"]), "invalid_field"),
    _fhir_reject(
        "value-string", _hr(valueQuantity={"value": "72", "code": "/min"}), "invalid_field"
    ),
    _fhir_reject("wrong-unit", observation(["8867-4"], quantity(72, "/s")), "invalid_field"),
    _fhir_reject("spo2-as-fraction", observation(["2708-6"], quantity(0.97, "1")), "invalid_field"),
    _fhir_reject("no-unit", _hr(valueQuantity={"value": 72}), "invalid_field"),
    _fhir_reject(
        "non-ucum-system",
        _hr(valueQuantity={"value": 72, "system": "http://example.org/units", "code": "/min"}),
        "invalid_field",
    ),
    _fhir_reject(
        "comparator",
        _hr(valueQuantity=quantity(72, "/min") | {"comparator": "<"}),
        "invalid_field",
    ),
    _fhir_reject("bp-panel-empty", bp_panel(None, None), "invalid_field"),
    _fhir_reject("bp-panel-wrong-unit", bp_panel(120, 80, unit="kPa"), "invalid_field"),
    _fhir_reject("effective-naive", _hr(effectiveDateTime="2025-03-01T03:59:58"), "invalid_field"),
    _fhir_reject("effective-date-only", _hr(effectiveDateTime="2025-03-01"), "invalid_field"),
    _fhir_reject("effective-epoch-ms", _hr(effectiveDateTime=TS_MS), "invalid_field"),
    _fhir_reject("effective-future", _hr(effectiveDateTime="2025-03-01T05:00:00Z"), "future_ts"),
    _fhir_reject("hr-high", observation(["8867-4"], quantity(251, "/min")), "out_of_range"),
    _fhir_reject(
        "temp-degf-high", observation(["8310-5"], quantity(115, "[degF]")), "out_of_range"
    ),
    _fhir_reject("bp-dbp-low", bp_panel(120, 19), "out_of_range"),
]


@pytest.mark.parametrize(
    ("stream", "payload", "reason"),
    [(s, p, r) for _, s, p, r in REJECTS],
    ids=[name for name, _, _, _ in REJECTS],
)
def test_decode_rejects(stream: str, payload: bytes, reason: str) -> None:
    error = rejected(stream, payload)
    assert error.reason == reason
    assert 0 < len(error.detail) <= 200


def test_every_codec_reason_has_a_case() -> None:
    covered = {reason for _, _, _, reason in REJECTS}
    # too_old needs a retention period in the limits: its own tests below; retained is the
    # pipeline's, from the MQTT flag (tests/ingest/test_pipeline.py).
    decided_elsewhere = {"topic_mismatch", "unknown_device", "too_old", "retained"}
    assert covered == set(REJECT_REASONS) - decided_elsewhere


# --- duplicate keys and ancient timestamps (issue 13, items 9 and 10) ------------------------


@pytest.mark.parametrize(
    ("stream", "payload"),
    [
        ("vitals", b'{"ts": 1740801598250, "hr": 300, "hr": 72}'),
        ("vitals", b'{"ts": 1740801598250, "hr": 72, "hr": 72}'),  # even an equal repeat
        ("vitals", b'{"ts": 1740801598250, "ts": 1740801598251, "hr": 72}'),
        ("status", b'{"online": true, "online": false}'),
        (
            "fhir",
            b'{"resourceType": "Observation", "status": "final", "effectiveDateTime": '
            b'"2025-03-01T03:59:58Z", "code": {"coding": [{"system": "http://loinc.org", '
            b'"code": "8867-4"}]}, "valueQuantity": {"value": 72, "value": 300, '
            b'"code": "/min", "system": "http://unitsofmeasure.org"}}',
        ),  # nested objects too
    ],
)
def test_duplicate_keys_are_malformed(stream: str, payload: bytes) -> None:
    error = rejected(stream, payload)
    assert error.reason == "malformed_json"
    assert error.detail.startswith("duplicate key")


def test_the_same_key_in_different_objects_is_fine() -> None:
    payload = (
        b'{"resourceType": "Observation", "status": "final", "effectiveDateTime": '
        b'"2025-03-01T03:59:58Z", "code": {"coding": [{"system": "http://loinc.org", '
        b'"code": "85354-9"}]}, "component": ['
        b'{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, '
        b'"valueQuantity": {"value": 128, "code": "mm[Hg]"}}, '
        b'{"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, '
        b'"valueQuantity": {"value": 79, "code": "mm[Hg]"}}]}'
    )
    message = decode(topic("fhir"), payload, received_at=NOW)
    assert len(measured(message)) == 2


RETAINED_30D = Limits(max_age=timedelta(days=30))


@pytest.mark.parametrize(
    ("stream", "payload"),
    [
        ("vitals", body(ts=0, hr=70)),  # 1970
        ("vitals", body(ts="2025-01-29T03:59:59Z", hr=70)),  # a second past 30 days
        ("motion", body(ts=TS_MS - 31 * 86_400_000, hz=50, ax=[0], ay=[0], az=[0])),
        ("event", body(ts="2000-01-01T00:00:00Z", type="fall")),
        ("status", body(ts="2000-01-01T00:00:00Z", online=True)),
    ],
)
def test_a_ts_older_than_retention_is_too_old(stream: str, payload: bytes) -> None:
    error = rejected(stream, payload, RETAINED_30D)
    assert error.reason == "too_old"
    assert "30-day retention" in error.detail


def test_max_age_is_inclusive_and_off_by_default() -> None:
    edge = body(ts="2025-01-30T04:00:00Z", hr=70)  # exactly 30 days before NOW
    assert decode(topic("vitals"), edge, received_at=NOW, limits=RETAINED_30D).header.ts
    ancient = body(ts=0, hr=70)
    assert decode(topic("vitals"), ancient, received_at=NOW).header.ts.year == 1970
    # A will without `ts` is stamped with the time of receipt: never too old.
    will = decode(topic("status"), b'{"online": false}', received_at=NOW, limits=RETAINED_30D)
    assert will.header.ts == NOW


def test_deep_nesting_beyond_default_size_is_malformed() -> None:
    limits = Limits(max_payload_bytes=1_000_000)
    assert rejected("vitals", b"[" * 100_000, limits).reason == "malformed_json"


def test_motion_sample_limit_comes_from_limits() -> None:
    payload = body(hz=50, ax=[0] * 5, ay=[0] * 5, az=[1] * 5)
    window = decode(topic("motion"), payload, received_at=NOW).observations
    assert [type(obs) for obs in window] == [Motion]
    assert rejected("motion", payload, Limits(max_motion_samples=4)).reason == "invalid_field"


def test_payload_size_limit_is_inclusive() -> None:
    payload = body(hr=70)
    exact = Limits(max_payload_bytes=len(payload))
    assert decode(topic("vitals"), payload, received_at=NOW, limits=exact)
    assert rejected("vitals", payload, Limits(max_payload_bytes=len(payload) - 1)).reason == (
        "oversized"
    )


# --- range boundaries ----------------------------------------------------------------------

# (stream, field, lowest accepted, highest accepted, step just outside)
BOUNDS: list[tuple[Stream, str, float, float, float]] = [
    ("vitals", "hr", 20, 250, 0.1),
    ("vitals", "spo2", 50, 100, 0.1),
    ("vitals", "rr", 3, 70, 0.1),
    ("vitals", "temp", 30, 43, 0.1),
    ("vitals", "sbp", 50, 260, 0.1),
    ("vitals", "dbp", 20, 200, 0.1),
    ("bed", "hr", 20, 250, 0.1),
    ("bed", "rr", 3, 70, 0.1),
    ("bed", "movement", 0, 1, 0.01),
    ("status", "battery", 0, 100, 0.1),
    ("status", "rssi", -150, 0, 0.1),
    ("event", "confidence", 0, 1, 0.01),
    ("motion", "hz", 1, 1000, 0.1),
]
EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "event": {"type": "fall"},
    "motion": {"ax": [0], "ay": [0], "az": [1]},
}


def bounded(stream: Stream, field: str, value: float) -> bytes:
    return body(**EXTRA_FIELDS.get(stream, {}), **{field: value})


def _bound_cases(accepted: bool) -> list[Any]:
    cases = []
    for stream, field, lo, hi, step in BOUNDS:
        values = (lo, hi) if accepted else (round(lo - step, 2), round(hi + step, 2))
        cases += [pytest.param(stream, field, v, id=f"{stream}-{field}-{v}") for v in values]
    return cases


@pytest.mark.parametrize(("stream", "field", "value"), _bound_cases(accepted=True))
def test_range_bounds_are_inclusive(stream: Stream, field: str, value: float) -> None:
    message = decode(topic(stream), bounded(stream, field, value), received_at=NOW)
    if stream in ("vitals", "bed", "fhir"):
        assert (field, float(value)) in measured(message)
    else:
        assert getattr(message.observations[0], field) == value


@pytest.mark.parametrize(("stream", "field", "value"), _bound_cases(accepted=False))
def test_range_outside_is_rejected_never_clipped(stream: Stream, field: str, value: float) -> None:
    error = rejected(stream, bounded(stream, field, value))
    assert error.reason == "out_of_range"
    assert field in error.detail
    assert str(value) in error.detail


# --- the error type ------------------------------------------------------------------------


def test_reject_reasons_are_the_documented_ones() -> None:
    assert REJECT_REASONS == (
        "oversized",
        "bad_topic",
        "unknown_stream",
        "malformed_json",
        "missing_ts",
        "invalid_field",
        "future_ts",
        "too_old",
        "out_of_range",
        "topic_mismatch",
        "unknown_device",
        "retained",
    )


def test_rejected_is_an_ingest_error_and_pickles() -> None:
    error = Rejected("unknown_device", "dev-9 is not provisioned")
    assert isinstance(error, IngestError)
    assert str(error) == "unknown_device: dev-9 is not provisioned"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.detail) == (error.reason, error.detail)


def test_rejected_detail_is_bounded() -> None:
    assert len(Rejected("invalid_field", "x" * 10_000).detail) == 200


def test_rejected_refuses_unknown_reason() -> None:
    with pytest.raises(ValueError, match="unknown reject reason"):
        Rejected("nope", "x")  # type: ignore[arg-type]


def test_detail_does_not_echo_invalid_values() -> None:
    secret = "resident-name-Jane-Doe"
    payloads = [
        ("vitals", body(hr=secret)),
        ("event", body(type=secret)),
        ("status", body(fw=secret * 5)),
        ("vitals", b'{"ts": 0, "hr": "' + secret.encode() + b'", "x": NaN}'),
        ("vitals", b'{"ts": 0, "hr": "' + secret.encode() + b'", "x": "\xff"}'),
    ]
    for stream, payload in payloads:
        error = rejected(stream, payload)
        assert secret not in error.detail
        # A chained pydantic or json error would carry the input into logged tracebacks.
        assert error.__cause__ is None
        assert error.__suppress_context__


@pytest.mark.parametrize("stream", ["vitals", "bed", "motion", "event", "status", "fhir"])
@pytest.mark.parametrize("opener", [b"[", b'{"a":'], ids=["arrays", "objects"])
def test_nesting_as_deep_as_the_size_limit_allows_is_refused_in_bounded_time(
    stream: str, opener: bytes
) -> None:
    # ~64 KiB of openers: the C parser stops at the interpreter's recursion limit (a
    # RecursionError the codec turns into a reason) after ~1,000 levels, whatever follows.
    deep = b'{"ts": 0, "hr": ' + opener * ((DEFAULT_LIMITS.max_payload_bytes - 20) // len(opener))
    started = time.perf_counter()
    refused = rejected(stream, deep)
    assert (refused.reason, refused.detail) == ("malformed_json", "nested too deeply")
    assert time.perf_counter() - started < 0.5  # typically well under a millisecond
    # 100,000 levels do not fit in 64 KiB: refused by size, never parsed.
    assert rejected(stream, b"[" * 100_000).reason == "oversized"
