"""Protocol v1's vocabulary: the words devices, ingest, the rules and the services share.

Pure data and a few checks, no I/O: the topic grammar, the streams, the metrics a reading
carries (unit, LOINC and UCUM codes, the range a body or a device can physically report), the
device event types, and the client ids reserved for CareWatch's own services. Every other list
of these names is derived from here (docs/device-protocol.md, "Vocabulary").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Final, Literal, get_args

# --- topics --------------------------------------------------------------------------------

PROTOCOL_VERSION: Final = "v1"
# carewatch/v1/{site_id}/{device_id}/{stream}
TOPIC_PREFIX: Final = f"carewatch/{PROTOCOL_VERSION}"
DATA_FILTER: Final = f"{TOPIC_PREFIX}/#"  # every device's every stream
# A site or device id. An explicit ASCII class: `\w` would also match non-ASCII letters.
ID_PATTERN: Final = "[A-Za-z0-9_-]{1,64}"
_ID: Final = re.compile(ID_PATTERN)

Stream = Literal["vitals", "motion", "bed", "event", "status", "fhir"]
STREAMS: Final[tuple[Stream, ...]] = get_args(Stream)
# The streams whose messages are numeric readings (a reading's `source`).
NumericStream = Literal["vitals", "bed", "fhir"]
NUMERIC_STREAMS: Final[tuple[NumericStream, ...]] = get_args(NumericStream)


def is_valid_id(value: str) -> bool:
    """Whether `value` may be a site or device id: `[A-Za-z0-9_-]{1,64}`."""
    return _ID.fullmatch(value) is not None


def device_topic(site_id: str, device_id: str, stream: str) -> str:
    """The topic a device publishes `stream` on; ValueError if an id or the stream is invalid."""
    for name, value in (("site_id", site_id), ("device_id", device_id)):
        if not is_valid_id(value):
            raise ValueError(f"invalid {name} {value[:80]!r}: must match {ID_PATTERN}")
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream[:80]!r}")
    return f"{TOPIC_PREFIX}/{site_id}/{device_id}/{stream}"


# Client ids CareWatch's own services connect with (ingest workers `carewatch-ingest[-N]`,
# detector partitions `carewatch-detector[-NAME]`, the admin tools `carewatch-admin-*`): the
# broker refuses devices any id with this prefix, so no device can take over a service session.
SERVICE_CLIENT_PREFIX: Final = "carewatch"


def is_service_client_id(client_id: str) -> bool:
    return client_id.lower().startswith(SERVICE_CLIENT_PREFIX)


# --- message fields ------------------------------------------------------------------------

# RFC 3339 section 5.6 (with the space separator its note allows); `[0-9]` because `\d`
# also matches non-ASCII digits, which fromisoformat would then happily accept.
RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
MAX_SEQ: Final = 2**63 - 1  # `seq` is stored in a bigint
MAX_ABS_ACCELERATION_G: Final = 64.0
ACCELERATION_AXES: Final = ("ax", "ay", "az")

DeviceEventType = Literal[
    "fall", "sos", "wear_off", "wear_on", "bed_exit", "bed_enter", "zone_exit", "zone_enter"
]
DEVICE_EVENT_TYPES: Final[tuple[DeviceEventType, ...]] = get_args(DeviceEventType)

# --- metrics -------------------------------------------------------------------------------

MetricName = Literal[
    "hr", "spo2", "rr", "temp", "sbp", "dbp", "movement", "occupied", "on_o2", "acvpu"
]  # fmt: skip
METRIC_NAMES: Final[tuple[MetricName, ...]] = get_args(MetricName)


@dataclass(frozen=True, slots=True)
class Coding:
    """A LOINC code and its display name."""

    code: str
    display: str


@dataclass(frozen=True, slots=True)
class Metric:
    """One numeric value a reading carries."""

    name: MetricName
    label: str  # short English name
    unit: str  # what the value is in, for people
    ucum: str | None = None  # the UCUM code of `unit`; None: a flag or a code, no unit
    # Inclusive; what a body or a device can physically report. Outside it a reading is
    # refused (never clipped), and no threshold may be set. None: a flag or a code.
    plausible: tuple[float, float] | None = None
    loinc: tuple[Coding, ...] = ()  # the codes naming it in FHIR; the first is preferred
    other_ucum: tuple[str, ...] = ()  # further UCUM units a FHIR Observation may use


_METRICS: Final = (
    Metric("hr", "Heart rate", "beats/min", "/min", (20, 250), (Coding("8867-4", "Heart rate"),)),
    Metric(
        "spo2",
        "SpO2",
        "%",
        "%",
        (50, 100),
        # The R4 vital-signs profile wants 2708-6; 59408-5 says "by pulse oximetry".
        (
            Coding("2708-6", "Oxygen saturation in Arterial blood"),
            Coding("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
        ),
    ),
    Metric(
        "rr",
        "Respiratory rate",
        "breaths/min",
        "/min",
        (3, 70),
        (Coding("9279-1", "Respiratory rate"),),
    ),
    Metric(
        "temp",
        "Temperature",
        "°C",
        "Cel",
        (30, 43),
        (Coding("8310-5", "Body temperature"),),
        other_ucum=("[degF]",),
    ),
    Metric(
        "sbp",
        "Systolic BP",
        "mmHg",
        "mm[Hg]",
        (50, 260),
        (Coding("8480-6", "Systolic blood pressure"),),
    ),
    Metric(
        "dbp",
        "Diastolic BP",
        "mmHg",
        "mm[Hg]",
        (20, 200),
        (Coding("8462-4", "Diastolic blood pressure"),),
    ),
    Metric("movement", "Movement", "fraction 0..1", plausible=(0, 1)),
    Metric("occupied", "Bed occupied", "flag 0/1"),
    Metric("on_o2", "On oxygen", "flag 0/1"),
    # Consciousness: 0 = Alert, 1 = new Confusion, 2 = Voice, 3 = Pain, 4 = Unresponsive.
    Metric("acvpu", "ACVPU", "code 0..4"),
)
METRICS: Final[Mapping[str, Metric]] = MappingProxyType({m.name: m for m in _METRICS})

# The vital signs a wearable or a spot check measures, in chart order.
VITAL_SIGNS: Final[tuple[str, ...]] = ("hr", "spo2", "rr", "temp", "sbp", "dbp")
# ... and what a referral and NEWS2 read beside them (bed occupancy and movement are not).
CLINICAL_METRICS: Final[tuple[str, ...]] = (*VITAL_SIGNS, "on_o2", "acvpu")
# The numbers a bed sensor measures (besides its `occupied` flag).
BED_METRICS: Final[tuple[str, ...]] = ("hr", "rr", "movement")
BLOOD_PRESSURE: Final[tuple[str, ...]] = ("sbp", "dbp")
# The fields of a `vitals` and a `bed` message body, and every metric a device's readings carry
# (`acvpu` is only ever entered by staff).
VITALS_FIELDS: Final[tuple[str, ...]] = (*VITAL_SIGNS, "on_o2")
BED_FIELDS: Final[tuple[str, ...]] = ("occupied", *BED_METRICS)
DEVICE_METRICS: Final[tuple[str, ...]] = tuple(dict.fromkeys((*VITALS_FIELDS, *BED_FIELDS)))

# Inclusive bounds of every numeric field a device may send: the metrics' plausible ranges and
# the other fields'.
RANGES: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        **{m.name: m.plausible for m in _METRICS if m.plausible is not None},
        "battery": (0, 100),
        "confidence": (0, 1),
        "hz": (1, 1000),
        "rssi": (-150, 0),
    }
)
# What each numeric field is in, for people (schemas, docs).
UNITS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{m.name: m.unit for m in _METRICS},
        "battery": "%",
        "confidence": "probability 0..1",
        "hz": "Hz",
        "rssi": "dBm",
        **dict.fromkeys(ACCELERATION_AXES, "g"),
    }
)

# --- symptoms ------------------------------------------------------------------------------

# What a round may chart about a resident beside the numbers (and a staff check-in, later):
# the signs the outbreak rules' case definitions are made of (docs/detection.md, "Outbreaks").
Symptom = Literal["cough", "sore_throat", "vomiting", "diarrhoea", "rash", "new_confusion"]
SYMPTOMS: Final[tuple[Symptom, ...]] = get_args(Symptom)
# ... and fever, which the fever rule finds in the temperatures rather than staff charting it.
Sign = Literal["fever", "cough", "sore_throat", "vomiting", "diarrhoea", "rash", "new_confusion"]
SIGNS: Final[tuple[Sign, ...]] = get_args(Sign)
# Whose case an outbreak counts: a resident, or (once staff check in) a member of staff.
PersonKind = Literal["resident", "staff"]
PERSON_KINDS: Final[tuple[PersonKind, ...]] = get_args(PersonKind)


# --- FHIR ----------------------------------------------------------------------------------

LOINC_SYSTEM: Final = "http://loinc.org"
UCUM_SYSTEM: Final = "http://unitsofmeasure.org"
BP_PANEL: Final = Coding("85354-9", "Blood pressure panel with all children optional")
# LOINC code -> the metric it names: single vital signs, and the BP panel's components.
LOINC_VITALS: Final[Mapping[str, MetricName]] = MappingProxyType(
    {c.code: m.name for m in _METRICS if m.name not in BLOOD_PRESSURE for c in m.loinc}
)
LOINC_BP_COMPONENTS: Final[Mapping[str, MetricName]] = MappingProxyType(
    {c.code: m.name for m in _METRICS if m.name in BLOOD_PRESSURE for c in m.loinc}
)
# The UCUM units a FHIR Observation may give each coded metric in.
FHIR_UNITS: Final[Mapping[MetricName, frozenset[str]]] = MappingProxyType(
    {m.name: frozenset({m.ucum, *m.other_ucum}) for m in _METRICS if m.loinc and m.ucum}
)
# Statuses whose value is a result; the others (registered, cancelled, entered-in-error,
# unknown) say there is no trustworthy value to store.
FHIR_RESULT_STATUSES: Final = frozenset({"preliminary", "final", "amended", "corrected"})

# --- presence ------------------------------------------------------------------------------

# A device not heard from for this long is offline: on every page and list that shows one, and
# in the presence spans the ingest worker keeps (docs/device-protocol.md, "When a device is
# offline"; docs/indicators.md).
OFFLINE_AFTER: Final = timedelta(minutes=5)
