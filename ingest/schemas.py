"""JSON Schemas (draft 2020-12) of protocol v1 payloads, one per stream, for integrators.

Generated, never written by hand: each starts from the wire model the codec validates with
(`ingest.models`) and adds the vocabulary's bounds, LOINC codes and units (`rules.vocabulary`)
and the codec's limits.
A schema is necessary, not sufficient: what JSON Schema cannot say (a `ts` too far ahead of
receipt, equal-length motion arrays, the payload's size) only the worker checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel

from ingest.codec import DEFAULT_LIMITS
from ingest.models import BedBody, EventBody, MotionBody, Observation, StatusBody, VitalsBody
from rules.vocabulary import (
    ACCELERATION_AXES,
    BP_PANEL,
    FHIR_RESULT_STATUSES,
    FHIR_UNITS,
    LOINC_BP_COMPONENTS,
    LOINC_SYSTEM,
    LOINC_VITALS,
    MAX_ABS_ACCELERATION_G,
    MAX_SEQ,
    RANGES,
    RFC3339,
    STREAMS,
    TOPIC_PREFIX,
    UCUM_SYSTEM,
    UNITS,
    MetricName,
    Stream,
)

Schema = dict[str, Any]

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
# Integer epoch ms the codec can turn into a datetime (year 1 to 9999).
_MIN_EPOCH_MS: Final = (datetime.min.replace(tzinfo=UTC) - _EPOCH) // _MS
_MAX_EPOCH_MS: Final = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _MS
# C0 and C1 controls and the line/paragraph separators: the part of "not printable" (the
# codec's test) a regex engine without Unicode classes can express.
_UNPRINTABLE: Final = r"[\x00-\x1f\x7f-\x9f\u2028\u2029]"


def protocol_schemas() -> dict[Stream, Schema]:
    """Every stream's payload schema, in protocol order; built fresh on each call."""
    return {stream: _BUILDERS[stream]() for stream in STREAMS}


# --- shared pieces -------------------------------------------------------------------------


def _rfc3339(field: str) -> Schema:
    return {
        "type": "string",
        # The codec full-matches; a JSON Schema pattern only searches, hence the anchors.
        "pattern": f"^(?:{RFC3339.pattern})$",
        "description": f"{field}: RFC 3339 date-time with a UTC offset (Z or +hh:mm)",
    }


def _timestamp() -> Schema:
    return {
        "description": (
            "when the value was measured: RFC 3339 with an offset, or integer epoch "
            f"milliseconds; at most {_minutes(DEFAULT_LIMITS.max_future)} min after receipt"
        ),
        "anyOf": [
            _rfc3339("ts"),
            {"type": "integer", "minimum": _MIN_EPOCH_MS, "maximum": _MAX_EPOCH_MS},
        ],
    }


def _seq() -> Schema:
    return {
        "description": "per-device message counter, increasing; null counts as absent",
        "anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_SEQ}, {"type": "null"}],
    }


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _branch(prop: Schema, json_type: str) -> Schema:
    """The part of a generated property (`X` or `X | None`) of `json_type`, to edit in place."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") == json_type:
            found: Schema = branch
            return found
    raise ValueError(f"no {json_type} branch in {prop!r}")


def _body(
    model: type[BaseModel], stream: Stream, description: str, *, ts_required: bool = True
) -> Schema:
    """A native stream's schema: the model's fields with their ranges, plus `ts` and `seq`."""
    schema = model.model_json_schema()
    for name, prop in schema["properties"].items():
        if name in RANGES:
            lo, hi = RANGES[name]
            _branch(prop, "number").update(minimum=lo, maximum=hi)
            prop["description"] = f"{UNITS[name]}, {lo} to {hi}"
        elif name in UNITS:
            prop["description"] = UNITS[name]
        text = _free_text(prop)
        if text is not None:
            text["not"] = {"pattern": _UNPRINTABLE}
            prop["description"] = "printable text"
    ts = _timestamp()
    if ts_required:
        schema["required"] = ["ts", *schema.get("required", [])]
    else:
        ts["anyOf"].append({"type": "null"})
    schema["properties"] = {"ts": ts, "seq": _seq(), **schema["properties"]}
    return _wrap(schema, stream, description)


def _free_text(prop: Schema) -> Schema | None:
    """The string branch of a property that holds free text (not an enum), if it has one."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") == "string" and "enum" not in branch:
            found: Schema = branch
            return found
    return None


def _wrap(schema: Schema, stream: Stream, description: str) -> Schema:
    return {
        "$schema": DIALECT,
        "title": f"CareWatch protocol v1 `{stream}` payload",
        "description": (
            f"Published on {TOPIC_PREFIX}/{{site_id}}/{{device_id}}/{stream}. {description} "
            f"The worker also rejects payloads over {DEFAULT_LIMITS.max_payload_bytes} bytes and "
            "integers too large to be a double; unknown fields are ignored."
        ),
        **{key: value for key, value in schema.items() if key != "title"},
    }


def _any_present(fields: Iterable[str]) -> Schema:
    """At least one of `fields` is present and not null."""
    return {
        "anyOf": [
            {"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in fields
        ]
    }


# --- native streams ------------------------------------------------------------------------


def _vitals() -> Schema:
    schema = _body(VitalsBody, "vitals", "At least one measurement besides ts and seq.")
    schema["allOf"] = [_any_present(VitalsBody.model_fields)]
    return schema


def _bed() -> Schema:
    schema = _body(BedBody, "bed", "At least one measurement besides ts and seq.")
    schema["allOf"] = [_any_present(BedBody.model_fields)]
    return schema


def _motion() -> Schema:
    limit = DEFAULT_LIMITS.max_motion_samples
    schema = _body(
        MotionBody,
        "motion",
        "One accelerometer window starting at ts, sampled at hz. ax, ay and az must have the "
        "same length (checked by the worker: JSON Schema cannot compare lengths).",
    )
    for axis in ACCELERATION_AXES:
        prop = schema["properties"][axis]
        prop["minItems"], prop["maxItems"] = 1, limit
        prop["items"].update(minimum=-MAX_ABS_ACCELERATION_G, maximum=MAX_ABS_ACCELERATION_G)
        prop["description"] = f"samples in g, each within ±{MAX_ABS_ACCELERATION_G:g}"
    return schema


def _event() -> Schema:
    return _body(EventBody, "event", "A discrete event the device detected.")


def _status() -> Schema:
    return _body(
        StatusBody,
        "status",
        'Published retained. ts may be omitted: the last will {"online": false} cannot carry '
        "one, and the time of receipt stands in.",
        ts_required=False,
    )


# --- FHIR ----------------------------------------------------------------------------------


def _coding_contains(codes: Iterable[str]) -> Schema:
    """A CodeableConcept with a LOINC coding whose code is one of `codes`."""
    return {
        "required": ["coding"],
        "properties": {
            "coding": {
                "type": "array",
                "contains": {
                    "required": ["system", "code"],
                    "properties": {
                        "system": {"const": LOINC_SYSTEM},
                        "code": {"enum": sorted(codes)},
                    },
                },
            }
        },
    }


def _has_code(codes: Iterable[str]) -> Schema:
    return {"required": ["code"], "properties": {"code": _coding_contains(codes)}}


def _lacks_code(codes: Iterable[str]) -> Schema:
    return {"properties": {"code": {"not": _coding_contains(codes)}}}


def _unit_is(unit: str) -> Schema:
    # The UCUM `code` decides; the display `unit` only when there is no code.
    return {
        "anyOf": [
            {"required": ["code"], "properties": {"code": {"const": unit}}},
            {
                "required": ["unit"],
                "properties": {"code": {"type": "null"}, "unit": {"const": unit}},
            },
        ]
    }


def _in_unit(metric: str, unit: str) -> tuple[float, float]:
    lo, hi = RANGES[metric]
    if unit == "[degF]":
        # The codec converts °F to °C before its range check; this is the inverse.
        return lo * 9 / 5 + 32, hi * 9 / 5 + 32
    return lo, hi


def _quantity(metric: MetricName) -> Schema:
    """A valueQuantity the codec stores as `metric`: a plain value in an accepted unit."""
    units = sorted(FHIR_UNITS[metric])
    return {
        "type": "object",
        "required": ["value"],
        "properties": {
            "value": {"type": "number"},
            "comparator": {"type": "null"},
            "system": {"anyOf": [{"const": UCUM_SYSTEM}, {"type": "null"}]},
        },
        "anyOf": [
            {
                "allOf": [_unit_is(unit)],
                "properties": {
                    "value": dict(zip(("minimum", "maximum"), _in_unit(metric, unit), strict=True))
                },
            }
            for unit in units
        ],
        "description": f"{metric} in UCUM {' or '.join(units)}",
    }


def _single_vital(metric: MetricName) -> Schema:
    """If the code names `metric`, no other vital sign may be named and the value must fit."""
    own = [code for code, m in LOINC_VITALS.items() if m == metric]
    others = [code for code, m in LOINC_VITALS.items() if m != metric] + [BP_PANEL.code]
    return {
        "if": _has_code(own),
        "then": {
            "allOf": [_lacks_code(others)],
            "required": ["valueQuantity"],
            "properties": {"valueQuantity": _quantity(metric)},
        },
    }


def _bp_component(metric: MetricName, code: str) -> Schema:
    others = [c for c in LOINC_BP_COMPONENTS if c != code]
    return {
        "if": _has_code([code]),
        "then": {
            "allOf": [_lacks_code(others)],
            "required": ["valueQuantity"],
            "properties": {"valueQuantity": _quantity(metric)},
        },
    }


def _bp_panel() -> Schema:
    components = {
        "type": "array",
        # Other components (e.g. mean arterial pressure) are allowed and ignored.
        "items": {"allOf": [_bp_component(m, c) for c, m in LOINC_BP_COMPONENTS.items()]},
        "contains": _has_code(LOINC_BP_COMPONENTS),
        "allOf": [
            {"contains": _has_code([code]), "minContains": 0, "maxContains": 1}
            for code in LOINC_BP_COMPONENTS
        ],
    }
    return {
        "if": _has_code([BP_PANEL.code]),
        "then": {
            "allOf": [_lacks_code(LOINC_VITALS)],
            "required": ["component"],
            "properties": {"component": components},
        },
    }


def _fhir() -> Schema:
    schema = Observation.model_json_schema()
    props = schema["properties"]
    props["resourceType"]["const"] = "Observation"
    props["status"]["enum"] = sorted(FHIR_RESULT_STATUSES)
    props["effectiveDateTime"] = _rfc3339("effectiveDateTime")
    schema["required"] = [*schema["required"], "effectiveDateTime"]
    supported = [*LOINC_VITALS, BP_PANEL.code]
    metrics = dict.fromkeys(LOINC_VITALS.values())
    schema["allOf"] = [
        _has_code(supported),
        *(_single_vital(metric) for metric in metrics),
        _bp_panel(),
    ]
    return _wrap(
        schema,
        "fhir",
        "A FHIR R4 vital-signs Observation (only the elements the worker reads): one LOINC-coded "
        f"vital sign in valueQuantity, or a blood pressure panel ({BP_PANEL.code}) with "
        "systolic and/or diastolic components. effectiveDateTime is the time of measurement.",
    )


_BUILDERS: Final[dict[Stream, Callable[[], Schema]]] = {
    "vitals": _vitals,
    "motion": _motion,
    "bed": _bed,
    "event": _event,
    "status": _status,
    "fhir": _fhir,
}
