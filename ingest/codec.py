"""Decode one device message (protocol v1 topic + payload bytes) into a typed reading.

Pure: no I/O, no logging, no clock. Any bad input raises `Rejected`, never anything else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar, cast

from pydantic import BaseModel, ValidationError

from ingest.errors import Rejected
from ingest.models import (
    BedBody,
    CodeableConcept,
    EventBody,
    MotionBody,
    Observation,
    Quantity,
    StatusBody,
    VitalsBody,
)
from ingest.readings import DeviceMessage, Header, Topic
from ingest.topic import parse_topic
from rules.types import DeviceEvent, DeviceStatus, Motion, Vital
from rules.vocabulary import (
    BED_METRICS,
    BLOOD_PRESSURE,
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
    UCUM_SYSTEM,
    VITAL_SIGNS,
    MetricName,
    NumericStream,
    Stream,
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one message may hold, set per deployment."""

    max_payload_bytes: int = 65536
    max_future: timedelta = timedelta(minutes=5)
    # How far back `ts` may lie (the deployment's retention period; None: no bound). Older
    # data would be dropped anyway, and every day of it would cost a database chunk first.
    max_age: timedelta | None = None
    # A retained message stays at the broker: only `status` may be one, and this small.
    max_retained_bytes: int = 4096
    max_motion_samples: int = 4096


DEFAULT_LIMITS: Final = Limits()

_M = TypeVar("_M", bound=BaseModel)
_Decoder = Callable[[Topic, dict[str, Any], datetime, Limits], DeviceMessage]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def decode(
    topic: str,
    payload: bytes,
    *,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
) -> DeviceMessage:
    """Validate one message and return its typed reading, or raise `Rejected`.

    `received_at` (timezone-aware) stands in for a missing `ts` on `status` and bounds how
    far in the future `ts` may be. A naive `received_at` is a caller bug: ValueError.
    """
    if received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    if len(payload) > limits.max_payload_bytes:
        raise Rejected("oversized", f"{len(payload)} bytes > {limits.max_payload_bytes}")
    where = parse_topic(topic)
    obj = _load_object(payload)
    return _DECODERS[where.stream](where, obj, received_at.astimezone(UTC), limits)


# --- payload -------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    # json accepts NaN/Infinity by default; they are not JSON and no device should send them.
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # `{"hr": 300, "hr": 72}` would otherwise keep the last value silently: which one a
    # device meant is unknowable, so the message is refused. One dict build and a length
    # compare on the common path; the key is looked for only when there is one.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {_show(key)}")
            seen.add(key)
    return obj


_JSON: Final = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def _load_object(payload: bytes) -> dict[str, Any]:
    try:
        # Decode explicitly: json.loads(bytes) would also guess UTF-16 and UTF-32.
        value = _JSON.decode(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Rejected("malformed_json", f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except RecursionError:
        raise Rejected("malformed_json", "nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers over the digit limit
        raise Rejected("malformed_json", str(exc)) from None
    if not isinstance(value, dict):
        raise Rejected("malformed_json", f"top level is {_json_type(value)}, not an object")
    return value


def _validate(model: type[_M], obj: dict[str, Any]) -> _M:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        # `from None`: the chained error would carry the payload into tracebacks and logs.
        raise _rejected_from(exc) from None


def _rejected_from(exc: ValidationError) -> Rejected:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "payload"
    if first["type"] == "float_type" and type(first.get("input")) is int:
        return Rejected("out_of_range", f"{where}: integer too large to be a number")
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return Rejected("invalid_field", f"{where}: {first['msg']}{more}")


# --- header --------------------------------------------------------------------------------


def _header(where: Topic, ts: datetime, seq: int | None) -> Header:
    return Header(where.site_id, where.device_id, where.stream, ts, seq)


def _message_header(
    where: Topic, obj: dict[str, Any], received_at: datetime, limits: Limits
) -> Header:
    """The header of a message that must carry `ts` and may carry `seq`."""
    ts = _timestamp(obj.get("ts"), "ts", received_at, limits)
    return _header(where, ts, _seq(obj.get("seq")))


def _timestamp(
    raw: object, field: str, received_at: datetime, limits: Limits, *, epoch_ms: bool = True
) -> datetime:
    if raw is None:
        raise Rejected("missing_ts", f"no {field}")
    # `type(...) is int`, not isinstance: a JSON true/false is a bool, which subclasses int.
    if epoch_ms and type(raw) is int:
        ts = _from_epoch_ms(raw, field)
    elif type(raw) is str:
        ts = _from_rfc3339(raw, field)
    else:
        wanted = "RFC 3339 string or integer epoch ms" if epoch_ms else "RFC 3339 string"
        raise Rejected("invalid_field", f"{field} must be an {wanted}, got {_json_type(raw)}")
    if ts - received_at > limits.max_future:
        raise Rejected(
            "future_ts", f"{field} {ts.isoformat()} is after receipt {received_at.isoformat()}"
        )
    if limits.max_age is not None and received_at - ts > limits.max_age:
        raise Rejected(
            "too_old",
            f"{field} {ts.isoformat()} is older than the {limits.max_age.days}-day retention",
        )
    return ts


def _from_epoch_ms(raw: int, field: str) -> datetime:
    try:
        # Integer arithmetic: going through a float seconds value would lose milliseconds.
        return _EPOCH + timedelta(milliseconds=raw)
    except OverflowError:
        raise Rejected("invalid_field", f"{field} epoch ms {_show(raw)} out of range") from None


def _from_rfc3339(raw: str, field: str) -> datetime:
    if RFC3339.fullmatch(raw) is None:
        raise Rejected("invalid_field", f"{field} {_show(raw)} is not RFC 3339 with an offset")
    try:
        return datetime.fromisoformat(raw.upper()).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise Rejected("invalid_field", f"{field} {_show(raw)}: {exc}") from None


def _seq(raw: object) -> int | None:
    if raw is None:
        return None
    if type(raw) is not int or not 0 <= raw <= MAX_SEQ:
        raise Rejected("invalid_field", f"seq must be an integer in [0, 2**63-1], got {_show(raw)}")
    return raw


# --- values --------------------------------------------------------------------------------

# (metric, value) pairs of a numeric message, checked; they become `Vital`s with its header.
_Measured = list[tuple[str, float]]


def _in_range(name: str, value: float) -> float:
    lo, hi = RANGES[name]
    # Written so that NaN fails too: every comparison with NaN is False.
    if not lo <= value <= hi:
        raise Rejected("out_of_range", f"{name}={value!r} not in [{lo}, {hi}]")
    return value


def _measurements(names: Sequence[str], body: BaseModel) -> _Measured:
    found = []
    for name in names:
        value = getattr(body, name)
        if value is not None:
            found.append((name, _in_range(name, value)))
    return found


def _flag(name: str, value: bool) -> tuple[str, float]:
    return (name, 1.0 if value else 0.0)


def _vitals(header: Header, measured: _Measured) -> DeviceMessage:
    if not measured:
        raise Rejected("invalid_field", f"{header.stream} message without any measurement")
    source = cast(NumericStream, header.stream)
    ts, device_id = header.ts, header.device_id
    return DeviceMessage(
        header, tuple(Vital(ts, metric, value, source, device_id) for metric, value in measured)
    )


def _text(name: str, value: str | None) -> str | None:
    # Control characters (NUL above all) and lone surrogates break the database and logs.
    if value is not None and not value.isprintable():
        raise Rejected("invalid_field", f"{name} holds unprintable characters")
    return value


def _samples(name: str, values: Sequence[float]) -> tuple[float, ...]:
    # sum/min/max run in C; the sum is not finite if any sample is inf or NaN.
    limit = MAX_ABS_ACCELERATION_G
    if not (math.isfinite(sum(values)) and -limit <= min(values) and max(values) <= limit):
        index, bad = next((i, v) for i, v in enumerate(values) if not -limit <= v <= limit)
        raise Rejected("out_of_range", f"{name}[{index}]={bad!r} not within +-{limit:g} g")
    return tuple(values)


# --- streams -------------------------------------------------------------------------------


def _decode_vitals(
    where: Topic, obj: dict[str, Any], received_at: datetime, limits: Limits
) -> DeviceMessage:
    body = _validate(VitalsBody, obj)
    header = _message_header(where, obj, received_at, limits)
    measured = _measurements(VITAL_SIGNS, body)
    if body.on_o2 is not None:
        measured.append(_flag("on_o2", body.on_o2))
    return _vitals(header, measured)


def _decode_bed(
    where: Topic, obj: dict[str, Any], received_at: datetime, limits: Limits
) -> DeviceMessage:
    body = _validate(BedBody, obj)
    header = _message_header(where, obj, received_at, limits)
    measured = [] if body.occupied is None else [_flag("occupied", body.occupied)]
    measured += _measurements(BED_METRICS, body)
    return _vitals(header, measured)


def _decode_motion(
    where: Topic, obj: dict[str, Any], received_at: datetime, limits: Limits
) -> DeviceMessage:
    body = _validate(MotionBody, obj)
    header = _message_header(where, obj, received_at, limits)
    lengths = {len(body.ax), len(body.ay), len(body.az)}
    if len(lengths) != 1:
        shown = ", ".join(str(n) for n in (len(body.ax), len(body.ay), len(body.az)))
        raise Rejected("invalid_field", f"ax, ay, az have unequal lengths {shown}")
    count = lengths.pop()
    if not 1 <= count <= limits.max_motion_samples:
        raise Rejected(
            "invalid_field", f"{count} samples per axis, want 1 to {limits.max_motion_samples}"
        )
    motion = Motion(
        ts=header.ts,
        device_id=header.device_id,
        hz=_in_range("hz", body.hz),
        ax=_samples("ax", body.ax),
        ay=_samples("ay", body.ay),
        az=_samples("az", body.az),
    )
    return DeviceMessage(header, (motion,))


def _decode_event(
    where: Topic, obj: dict[str, Any], received_at: datetime, limits: Limits
) -> DeviceMessage:
    body = _validate(EventBody, obj)
    header = _message_header(where, obj, received_at, limits)
    confidence = body.confidence
    event = DeviceEvent(
        ts=header.ts,
        device_id=header.device_id,
        type=body.type,
        zone=_text("zone", body.zone),
        confidence=None if confidence is None else _in_range("confidence", confidence),
    )
    return DeviceMessage(header, (event,))


def _decode_status(
    where: Topic, obj: dict[str, Any], received_at: datetime, limits: Limits
) -> DeviceMessage:
    body = _validate(StatusBody, obj)
    raw_ts = obj.get("ts")
    # The MQTT last will (`{"online": false}`) cannot carry a time: receipt stands in.
    ts = received_at if raw_ts is None else _timestamp(raw_ts, "ts", received_at, limits)
    header = _header(where, ts, _seq(obj.get("seq")))
    battery, rssi = body.battery, body.rssi
    status = DeviceStatus(
        ts=ts,
        device_id=header.device_id,
        battery=None if battery is None else _in_range("battery", battery),
        online=body.online,
        rssi=None if rssi is None else _in_range("rssi", rssi),
        fw=_text("fw", body.fw),
        placement=body.placement,
    )
    return DeviceMessage(header, (status,))


def _decode_fhir(
    where: Topic, obj: dict[str, Any], received_at: datetime, limits: Limits
) -> DeviceMessage:
    obs = _validate(Observation, obj)
    if obs.resourceType != "Observation":
        raise Rejected("invalid_field", f"resourceType {_show(obs.resourceType)}, not Observation")
    if obs.status not in FHIR_RESULT_STATUSES:
        raise Rejected("invalid_field", f"status {_show(obs.status)} carries no result")
    ts = _timestamp(obs.effectiveDateTime, "effectiveDateTime", received_at, limits, epoch_ms=False)
    codes = _loinc_codes(obs.code)
    bp_panel = BP_PANEL.code in codes
    measured = _fhir_bp_panel(obs, codes) if bp_panel else [_fhir_single(obs, codes)]
    # A FHIR Observation carries no sequence number.
    return _vitals(_header(where, ts, None), measured)


# --- FHIR ----------------------------------------------------------------------------------


def _loinc_codes(concept: CodeableConcept) -> frozenset[str]:
    return frozenset(
        c.code for c in concept.coding if c.system == LOINC_SYSTEM and c.code is not None
    )


def _fhir_single(obs: Observation, codes: frozenset[str]) -> tuple[str, float]:
    # Several codings may name the same metric (SpO2 is often coded 2708-6 and 59408-5).
    metrics = {LOINC_VITALS[code] for code in codes if code in LOINC_VITALS}
    if len(metrics) != 1:
        found = ", ".join(sorted(codes)) or "none"
        raise Rejected("invalid_field", f"want one supported LOINC vital sign, got codes {found}")
    return _fhir_quantity(metrics.pop(), obs.valueQuantity, "valueQuantity")


def _fhir_bp_panel(obs: Observation, codes: frozenset[str]) -> _Measured:
    if any(code in LOINC_VITALS for code in codes):
        raise Rejected("invalid_field", "code names both the BP panel and another vital sign")
    found: dict[str, tuple[str, float]] = {}
    for index, component in enumerate(obs.component):
        component_codes = _loinc_codes(component.code)
        metrics = {LOINC_BP_COMPONENTS[c] for c in component_codes if c in LOINC_BP_COMPONENTS}
        if not metrics:
            continue  # e.g. mean arterial pressure: not ours, and allowed in the panel
        if len(metrics) > 1 or metrics & found.keys():
            raise Rejected("invalid_field", f"component.{index} repeats or mixes sbp/dbp")
        metric = metrics.pop()
        found[metric] = _fhir_quantity(
            metric, component.valueQuantity, f"component.{index}.valueQuantity"
        )
    if not found:
        raise Rejected("invalid_field", "BP panel without a systolic or diastolic component")
    return [found[metric] for metric in BLOOD_PRESSURE if metric in found]


def _fhir_quantity(metric: MetricName, quantity: Quantity | None, path: str) -> tuple[str, float]:
    if quantity is None or quantity.value is None:
        raise Rejected("invalid_field", f"{path}.value missing for {metric}")
    if quantity.comparator is not None:
        raise Rejected("invalid_field", f"{path}.comparator: a bound is not a measurement")
    unit = _fhir_unit(quantity, path)
    if unit not in FHIR_UNITS[metric]:
        raise Rejected("invalid_field", f"{path}: unit {_show(unit)} is wrong for {metric}")
    value = quantity.value
    if unit == "[degF]":
        value = (value - 32.0) * 5.0 / 9.0
    return (metric, _in_range(metric, value))


def _fhir_unit(quantity: Quantity, path: str) -> str:
    # The UCUM code is authoritative; `unit` is display text, used only when there is no code.
    if quantity.system is not None and quantity.system != UCUM_SYSTEM:
        raise Rejected("invalid_field", f"{path}.system {_show(quantity.system)} is not UCUM")
    unit = quantity.code if quantity.code is not None else quantity.unit
    if unit is None:
        raise Rejected("invalid_field", f"{path} has no unit")
    return unit


# --- helpers -------------------------------------------------------------------------------


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _show(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_DECODERS: Final[dict[Stream, _Decoder]] = {
    "vitals": _decode_vitals,
    "bed": _decode_bed,
    "motion": _decode_motion,
    "event": _decode_event,
    "status": _decode_status,
    "fhir": _decode_fhir,
}
