"""The published JSON Schemas agree with the codec: what the simulator sends passes both,
malformed payloads fail both, and the API serves the schemas without a token."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import numpy as np
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from device_sim.devices import SimDevice
from device_sim.messages import (
    DeviceClock,
    Message,
    bed_message,
    epoch_ms,
    status_message,
    vitals_message,
    will_message,
)
from device_sim.motion import ADL_KINDS, FALL_KINDS, PLACEMENTS
from device_sim.motion import generate as generate_motion
from device_sim.physiology import bed_at, new_resident, vitals_at
from device_sim.status import new_power, status_at
from ingest.codec import _DECODERS, decode
from ingest.errors import Rejected
from ingest.models import BedBody, EventBody, VitalsBody
from ingest.schemas import DIALECT, protocol_schemas
from rules.vocabulary import (
    BED_FIELDS,
    DEVICE_EVENT_TYPES,
    MAX_ABS_ACCELERATION_G,
    RANGES,
    STREAMS,
    VITALS_FIELDS,
    Stream,
)

SITE, DEVICE = "site-a", "dev-1"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TS = epoch_ms(NOW - timedelta(minutes=1))
SCHEMAS = protocol_schemas()
VALIDATORS = {stream: Draft202012Validator(schema) for stream, schema in SCHEMAS.items()}
WEARABLE = SimDevice("w-1", SITE, "wearable", "pw", "res-1")
BED = SimDevice("b-1", SITE, "bed_sensor", "pw", "res-1")


def schema_accepts(stream: Stream, payload: object) -> bool:
    return VALIDATORS[stream].is_valid(payload)


def codec_reason(stream: Stream, payload: object) -> str | None:
    """None if the codec accepts `payload` on `stream`, else its reject reason."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    try:
        decode(f"carewatch/v1/{SITE}/{DEVICE}/{stream}", raw, received_at=NOW)
    except Rejected as rejected:
        return rejected.reason
    return None


def observation(loinc: str, value: object, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "effectiveDateTime": "2025-06-01T11:59:00Z",
        "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": unit},
        **extra,
    }


def bp_component(code: str, value: object) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "valueQuantity": {"value": value, "code": "mm[Hg]"},
    }


def bp_panel(*components: dict[str, Any], extra_code: str | None = None) -> dict[str, Any]:
    codes = [{"system": "http://loinc.org", "code": "85354-9"}]
    if extra_code is not None:
        codes.append({"system": "http://loinc.org", "code": extra_code})
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": codes},
        "effectiveDateTime": "2025-06-01T11:59:00+08:00",
        "component": list(components),
    }


def test_one_schema_per_stream_the_codec_decodes() -> None:
    assert list(SCHEMAS) == list(STREAMS)
    assert set(SCHEMAS) == set(_DECODERS)
    for stream, schema in SCHEMAS.items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == DIALECT
        assert f"/{stream}" in schema["description"]


def test_built_fresh_so_callers_cannot_corrupt_them() -> None:
    first = protocol_schemas()
    first["vitals"]["properties"]["hr"]["anyOf"][0]["maximum"] = 1e9
    assert protocol_schemas() == SCHEMAS


# --- the simulator's output ----------------------------------------------------------------


def simulated_day() -> Iterator[Message]:
    """What device_sim publishes for one resident over a day: vitals, bed, status, last will."""
    rng = np.random.default_rng(7)
    resident = new_resident(rng)
    power = {WEARABLE.device_id: new_power(rng), BED.device_id: new_power(rng)}
    clocks = {WEARABLE.device_id: DeviceClock(), BED.device_id: DeviceClock()}
    start = NOW - timedelta(days=1)
    for step in range(24 * 4):
        t = start + timedelta(minutes=15 * step)
        for device in (WEARABLE, BED):
            seq, ts = clocks[device.device_id].stamp(t)
            if device.kind == "wearable":
                resident, vitals = vitals_at(resident, t, rng)
                yield vitals_message(device, vitals, seq=seq, ts_ms=ts)
            else:
                resident, bed = bed_at(resident, t, rng)
                yield bed_message(device, bed, seq=seq, ts_ms=ts)
            power[device.device_id], reading = status_at(
                power[device.device_id], t, device.kind, rng
            )
            seq, ts = clocks[device.device_id].stamp(t)
            yield status_message(device, reading, seq=seq, ts_ms=ts)
    yield will_message(WEARABLE)
    yield will_message(BED)


def test_simulator_messages_pass_schema_and_codec() -> None:
    seen: set[str] = set()
    for message in simulated_day():
        payload = json.loads(message.payload)
        errors = [e.message for e in VALIDATORS[message.stream].iter_errors(payload)]
        assert errors == [], (message.topic, payload)
        assert codec_reason(message.stream, payload) is None, payload
        seen.add(message.stream)
    assert seen == {"vitals", "bed", "status"}  # all the streams device_sim.messages builds


def test_simulated_motion_windows_pass_schema_and_codec() -> None:
    # The simulator generates recordings but has no wire builder for motion: this is the
    # payload protocol v1 defines for one window of its samples.
    windows = 0
    for placement in PLACEMENTS:
        for kind in (*ADL_KINDS, *FALL_KINDS):
            recording = generate_motion(
                kind, placement=placement, hz=50.0, rng=np.random.default_rng(3)
            )
            for offset, chunk in recording.windows(2.0):
                payload = {
                    "ts": TS + round(offset * 1000),
                    "seq": windows,
                    "hz": recording.hz,
                    "ax": chunk[:, 0].tolist(),
                    "ay": chunk[:, 1].tolist(),
                    "az": chunk[:, 2].tolist(),
                }
                assert schema_accepts("motion", payload), (kind, placement, offset)
                assert codec_reason("motion", payload) is None
                windows += 1
    assert windows > 100


@pytest.mark.parametrize("event_type", DEVICE_EVENT_TYPES)
def test_every_event_type(event_type: str) -> None:
    payload = {"ts": TS, "seq": 1, "type": event_type, "zone": "garden", "confidence": 0.8}
    assert schema_accepts("event", payload)
    assert codec_reason("event", payload) is None


# --- schema and codec agree ----------------------------------------------------------------

# (id, stream, payload, the codec's reason or None when it accepts)
CASES: list[tuple[str, Stream, object, str | None]] = [
    ("vitals-rfc3339-ts", "vitals", {"ts": "2025-06-01T19:59:00.5+08:00", "hr": 60}, None),
    ("vitals-space-separator", "vitals", {"ts": "2025-06-01 11:59:00z", "spo2": 95}, None),
    ("vitals-null-seq-and-field", "vitals", {"ts": TS, "seq": None, "hr": None, "rr": 12}, None),
    ("vitals-only-on-o2", "vitals", {"ts": TS, "on_o2": True}, None),
    ("vitals-unknown-field-ignored", "vitals", {"ts": TS, "hr": 60, "colour": "red"}, None),
    ("vitals-hr-too-high", "vitals", {"ts": TS, "hr": 251}, "out_of_range"),
    ("vitals-spo2-too-low", "vitals", {"ts": TS, "spo2": 49.9}, "out_of_range"),
    ("vitals-temp-in-fahrenheit", "vitals", {"ts": TS, "temp": 98.6}, "out_of_range"),
    ("vitals-hr-as-string", "vitals", {"ts": TS, "hr": "72"}, "invalid_field"),
    ("vitals-bool-as-number", "vitals", {"ts": TS, "hr": True}, "invalid_field"),
    ("vitals-number-as-bool", "vitals", {"ts": TS, "on_o2": 1}, "invalid_field"),
    ("vitals-no-measurement", "vitals", {"ts": TS, "seq": 3}, "invalid_field"),
    ("vitals-all-null", "vitals", {"ts": TS, "hr": None}, "invalid_field"),
    ("vitals-missing-ts", "vitals", {"hr": 72}, "missing_ts"),
    ("vitals-null-ts", "vitals", {"ts": None, "hr": 72}, "missing_ts"),
    ("vitals-ts-no-offset", "vitals", {"ts": "2025-06-01T11:59:00", "hr": 72}, "invalid_field"),
    ("vitals-ts-date-only", "vitals", {"ts": "2025-06-01", "hr": 72}, "invalid_field"),
    ("vitals-ts-bool", "vitals", {"ts": True, "hr": 72}, "invalid_field"),
    ("vitals-ts-float", "vitals", {"ts": 1.5, "hr": 72}, "invalid_field"),
    ("vitals-seq-negative", "vitals", {"ts": TS, "seq": -1, "hr": 72}, "invalid_field"),
    ("vitals-seq-too-big", "vitals", {"ts": TS, "seq": 2**63, "hr": 72}, "invalid_field"),
    ("vitals-seq-string", "vitals", {"ts": TS, "seq": "1", "hr": 72}, "invalid_field"),
    ("vitals-not-an-object", "vitals", [{"ts": TS, "hr": 72}], "malformed_json"),
    ("bed-empty", "bed", {"ts": TS, "occupied": False, "movement": 0.0}, None),
    ("bed-movement-over-1", "bed", {"ts": TS, "movement": 1.01}, "out_of_range"),
    ("bed-no-measurement", "bed", {"ts": TS}, "invalid_field"),
    (
        "motion-missing-az",
        "motion",
        {"ts": TS, "hz": 50, "ax": [0.1], "ay": [0.1]},
        "invalid_field",
    ),
    ("motion-missing-hz", "motion", {"ts": TS, "ax": [0], "ay": [0], "az": [1]}, "invalid_field"),
    (
        "motion-no-samples",
        "motion",
        {"ts": TS, "hz": 50, "ax": [], "ay": [], "az": []},
        "invalid_field",
    ),
    (
        "motion-too-many-samples",
        "motion",
        {"ts": TS, "hz": 50, "ax": [0.0] * 4097, "ay": [0.0] * 4097, "az": [1.0] * 4097},
        "invalid_field",
    ),
    (
        "motion-sample-over-64g",
        "motion",
        {"ts": TS, "hz": 50, "ax": [64.5], "ay": [0], "az": [1]},
        "out_of_range",
    ),
    (
        "motion-sample-string",
        "motion",
        {"ts": TS, "hz": 50, "ax": ["0"], "ay": [0], "az": [1]},
        "invalid_field",
    ),
    (
        "motion-hz-zero",
        "motion",
        {"ts": TS, "hz": 0, "ax": [0], "ay": [0], "az": [1]},
        "out_of_range",
    ),
    ("event-unknown-type", "event", {"ts": TS, "type": "explosion"}, "invalid_field"),
    ("event-missing-type", "event", {"ts": TS, "zone": "hall"}, "invalid_field"),
    (
        "event-zone-too-long",
        "event",
        {"ts": TS, "type": "zone_exit", "zone": "z" * 65},
        "invalid_field",
    ),
    (
        "event-zone-with-nul",
        "event",
        {"ts": TS, "type": "zone_exit", "zone": "a\x00b"},
        "invalid_field",
    ),
    (
        "event-confidence-over-1",
        "event",
        {"ts": TS, "type": "fall", "confidence": 1.5},
        "out_of_range",
    ),
    ("status-last-will", "status", {"online": False}, None),
    ("status-empty", "status", {}, None),
    ("status-null-ts", "status", {"ts": None, "battery": 50}, None),
    ("status-battery-over-100", "status", {"ts": TS, "battery": 101}, "out_of_range"),
    ("status-rssi-positive", "status", {"ts": TS, "rssi": 3}, "out_of_range"),
    ("status-online-string", "status", {"ts": TS, "online": "yes"}, "invalid_field"),
    ("status-fw-newline", "status", {"ts": TS, "fw": "1.0\n"}, "invalid_field"),
    ("status-ts-no-offset", "status", {"ts": "2025-06-01T11:59:00"}, "invalid_field"),
    ("fhir-hr", "fhir", observation("8867-4", 66, "/min"), None),
    (
        "fhir-spo2-two-codes",
        "fhir",
        observation(
            "59408-5",
            95,
            "%",
            code={
                "coding": [
                    {"system": "http://loinc.org", "code": "59408-5"},
                    {"system": "http://loinc.org", "code": "2708-6"},
                ]
            },
        ),
        None,
    ),
    ("fhir-temp-celsius", "fhir", observation("8310-5", 36.9, "Cel"), None),
    (
        "fhir-unit-without-code",
        "fhir",
        observation("9279-1", 18, "x", valueQuantity={"value": 18, "unit": "/min"}),
        None,
    ),
    (
        "fhir-bp-panel",
        "fhir",
        bp_panel(bp_component("8480-6", 131), bp_component("8462-4", 82)),
        None,
    ),
    (
        "fhir-bp-systolic-only-plus-map",
        "fhir",
        bp_panel(bp_component("8480-6", 131), bp_component("8478-0", 95)),
        None,
    ),
    ("fhir-hr-too-high", "fhir", observation("8867-4", 300, "/min"), "out_of_range"),
    ("fhir-hr-wrong-unit", "fhir", observation("8867-4", 66, "%"), "invalid_field"),
    (
        "fhir-hr-not-ucum",
        "fhir",
        observation(
            "8867-4",
            66,
            "/min",
            valueQuantity={"value": 66, "code": "/min", "system": "http://example.org"},
        ),
        "invalid_field",
    ),
    (
        "fhir-comparator",
        "fhir",
        observation(
            "8867-4", 66, "/min", valueQuantity={"value": 66, "code": "/min", "comparator": ">"}
        ),
        "invalid_field",
    ),
    ("fhir-no-value", "fhir", observation("8867-4", None, "/min"), "invalid_field"),
    ("fhir-value-string", "fhir", observation("8867-4", "66", "/min"), "invalid_field"),
    ("fhir-unsupported-code", "fhir", observation("29463-7", 70, "kg"), "invalid_field"),
    (
        "fhir-code-not-loinc",
        "fhir",
        observation(
            "8867-4",
            66,
            "/min",
            code={"coding": [{"system": "http://snomed.info/sct", "code": "8867-4"}]},
        ),
        "invalid_field",
    ),
    (
        "fhir-two-vital-signs",
        "fhir",
        observation(
            "8867-4",
            66,
            "/min",
            code={
                "coding": [
                    {"system": "http://loinc.org", "code": "8867-4"},
                    {"system": "http://loinc.org", "code": "9279-1"},
                ]
            },
        ),
        "invalid_field",
    ),
    (
        "fhir-not-observation",
        "fhir",
        observation("8867-4", 66, "/min", resourceType="Patient"),
        "invalid_field",
    ),
    (
        "fhir-cancelled",
        "fhir",
        observation("8867-4", 66, "/min", status="cancelled"),
        "invalid_field",
    ),
    (
        "fhir-no-time",
        "fhir",
        observation("8867-4", 66, "/min", effectiveDateTime=None),
        "missing_ts",
    ),
    (
        "fhir-epoch-ms-time",
        "fhir",
        observation("8867-4", 66, "/min", effectiveDateTime=TS),
        "invalid_field",
    ),
    ("fhir-bp-no-components", "fhir", bp_panel(), "invalid_field"),
    ("fhir-bp-only-map", "fhir", bp_panel(bp_component("8478-0", 95)), "invalid_field"),
    (
        "fhir-bp-systolic-twice",
        "fhir",
        bp_panel(bp_component("8480-6", 131), bp_component("8480-6", 130)),
        "invalid_field",
    ),
    (
        "fhir-bp-and-hr",
        "fhir",
        bp_panel(bp_component("8480-6", 131), extra_code="8867-4"),
        "invalid_field",
    ),
    ("fhir-bp-systolic-too-high", "fhir", bp_panel(bp_component("8480-6", 261)), "out_of_range"),
    (
        "fhir-bp-component-no-value",
        "fhir",
        bp_panel({"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}}),
        "invalid_field",
    ),
]


@pytest.mark.parametrize(
    ("stream", "payload", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_schema_and_codec_agree(stream: Stream, payload: object, reason: str | None) -> None:
    assert codec_reason(stream, payload) == reason
    assert schema_accepts(stream, payload) is (reason is None)


def ranged_fields() -> list[tuple[Stream, str]]:
    found = []
    for stream in STREAMS:
        for name in SCHEMAS[stream]["properties"]:
            if name in RANGES:
                found.append((stream, name))
    return found


def test_every_range_of_the_codec_is_in_a_schema() -> None:
    assert {name for _, name in ranged_fields()} == set(RANGES)


BASE: dict[Stream, dict[str, object]] = {
    "vitals": {"ts": TS},
    "bed": {"ts": TS},
    "motion": {"ts": TS, "hz": 50, "ax": [0.0], "ay": [0.0], "az": [1.0]},
    "event": {"ts": TS, "type": "fall"},
    "status": {"ts": TS},
}


@pytest.mark.parametrize(("stream", "name"), ranged_fields(), ids="-".join)
def test_range_bounds_agree(stream: Stream, name: str) -> None:
    """Both ends are inclusive, and the nearest doubles beyond them fail, in both."""
    lo, hi = RANGES[name]
    for value, reason in [
        (lo, None),
        (hi, None),
        (math.nextafter(lo, -math.inf), "out_of_range"),
        (math.nextafter(hi, math.inf), "out_of_range"),
    ]:
        payload = {**BASE[stream], name: value}
        assert codec_reason(stream, payload) == reason, payload
        assert schema_accepts(stream, payload) is (reason is None), payload


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (MAX_ABS_ACCELERATION_G, None),
        (-MAX_ABS_ACCELERATION_G, None),
        (math.nextafter(MAX_ABS_ACCELERATION_G, math.inf), "out_of_range"),
        (math.nextafter(-MAX_ABS_ACCELERATION_G, -math.inf), "out_of_range"),
    ],
)
def test_acceleration_bounds_agree(sample: float, reason: str | None) -> None:
    payload = {**BASE["motion"], "ay": [sample]}
    assert codec_reason("motion", payload) == reason
    assert schema_accepts("motion", payload) is (reason is None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(86.0, None), (109.4, None), (85.9, "out_of_range"), (109.5, "out_of_range")],
)
def test_fahrenheit_bounds_agree(value: float, reason: str | None) -> None:
    payload = observation("8310-5", value, "[degF]")
    assert codec_reason("fhir", payload) == reason
    assert schema_accepts("fhir", payload) is (reason is None)


# What JSON Schema cannot express: these pass the schema and only the worker rejects them.
GAPS: list[tuple[str, Stream, object, str]] = [
    ("future-ts", "vitals", {"ts": epoch_ms(NOW + timedelta(minutes=6)), "hr": 70}, "future_ts"),
    (
        "unequal-axes",
        "motion",
        {"ts": TS, "hz": 50, "ax": [0, 0], "ay": [0], "az": [1]},
        "invalid_field",
    ),
    ("integral-float-seq", "vitals", {"ts": TS, "seq": 1.0, "hr": 70}, "invalid_field"),
    ("integral-float-ts", "vitals", {"ts": float(TS), "hr": 70}, "invalid_field"),
    (
        "unprintable-format-char",
        "event",
        {"ts": TS, "type": "sos", "zone": "a\u200bb"},
        "invalid_field",
    ),
    ("oversized", "status", {"ts": TS, "pad": "x" * 70_000}, "oversized"),
]


@pytest.mark.parametrize(
    ("stream", "payload", "reason"), [g[1:] for g in GAPS], ids=[g[0] for g in GAPS]
)
def test_documented_gaps_only_the_codec_catches(
    stream: Stream, payload: object, reason: str
) -> None:
    assert schema_accepts(stream, payload)
    assert codec_reason(stream, payload) == reason


# --- the API -------------------------------------------------------------------------------


def test_api_lists_the_schemas(api: TestClient) -> None:
    response = api.get("/api/v1/protocol/schemas")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["topic"] == "carewatch/v1/{site_id}/{device_id}/{stream}"
    assert [link["stream"] for link in body["schemas"]] == list(STREAMS)
    for link in body["schemas"]:
        assert link["href"] == f"/api/v1/protocol/schemas/{link['stream']}"
        assert link["title"] == SCHEMAS[link["stream"]]["title"]


@pytest.mark.parametrize("stream", STREAMS)
def test_api_serves_each_schema(api: TestClient, stream: Stream) -> None:
    response = api.get(f"/api/v1/protocol/schemas/{stream}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/schema+json")
    assert response.json() == SCHEMAS[stream]


def test_api_unknown_stream_is_404_naming_the_streams(api: TestClient) -> None:
    response = api.get("/api/v1/protocol/schemas/weather")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "'weather'" in detail
    assert all(stream in detail for stream in STREAMS)


def test_api_schemas_need_no_token(api: TestClient) -> None:
    # A wrong token is refused where a token is required, and makes no difference here.
    wrong = {"Authorization": "Bearer not-the-admin-token"}
    assert api.get("/api/v1/devices/nobody", headers=wrong).status_code == 401
    assert api.get("/api/v1/protocol/schemas", headers=wrong).status_code == 200
    assert api.get("/api/v1/protocol/schemas/vitals", headers=wrong).status_code == 200


def test_wire_models_carry_the_vocabulary_fields() -> None:
    # The codec reads a body's metrics by the vocabulary's names: a model field missing (or
    # one added without a name in the vocabulary) would drop or never range-check a value.
    assert set(VitalsBody.model_fields) == set(VITALS_FIELDS)
    assert set(BedBody.model_fields) == set(BED_FIELDS)
    assert get_args(EventBody.model_fields["type"].annotation) == DEVICE_EVENT_TYPES
