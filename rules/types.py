"""What the rules read and what they say: typed observations in, alert candidates out.

Rules never see MQTT, SQL or a clock. The ingest codec decodes a device message straight into
these observation types; the detector attributes them to a resident and passes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from rules.fall_placement import Placement
from rules.vocabulary import DeviceEventType, NumericStream

Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_ORDER: dict[Severity, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}

# Where a vital came from: a device's numeric stream, or entered by staff.
Source = Literal[NumericStream, "manual"]

# Consciousness (ACVPU) travels as a numeric vital "acvpu": 0 = Alert, 1 = new Confusion,
# 2 = responds to Voice, 3 = to Pain, 4 = Unresponsive.
ACVPU_CODES = {"A": 0, "C": 1, "V": 2, "P": 3, "U": 4}


@dataclass(frozen=True, slots=True)
class Vital:
    """One numeric observation of a resident: hr, spo2, rr, temp, sbp, dbp, on_o2 (0/1),
    acvpu (see ACVPU_CODES), occupied (bed, 0/1), movement (bed, 0..1)."""

    ts: datetime
    metric: str
    value: float
    source: Source
    device_id: str | None = None


@dataclass(frozen=True, slots=True)
class Motion:
    """An accelerometer window (g) from a worn device, starting at `ts`, sampled at `hz`;
    `placement` is where the device is worn, as its record or status declares (None: not
    declared)."""

    ts: datetime
    device_id: str
    hz: float
    ax: tuple[float, ...]
    ay: tuple[float, ...]
    az: tuple[float, ...]
    placement: Placement | None = None


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    ts: datetime
    device_id: str
    type: DeviceEventType
    zone: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device's state as it reports it (`online` False: its last will). `rssi`, `fw` and
    `placement` are stored and shown; the rules read battery, online and placement."""

    ts: datetime
    device_id: str
    battery: float | None = None
    online: bool | None = None
    rssi: float | None = None
    fw: str | None = None
    placement: Placement | None = None


Observation = Vital | Motion | DeviceEvent | DeviceStatus

StaffAction = Literal["acknowledged", "resolved"]


@dataclass(frozen=True, slots=True)
class StaffAttended:
    """A person acted on an alert about the resident (acknowledged or resolved it): someone
    is attending. `condition_ts` is the data time the alert's condition was established (a
    fall's impact), which names the episode the action was about."""

    ts: datetime  # when staff acted
    action: StaffAction
    rule_id: str
    dedupe_key: str
    condition_ts: datetime


Action = Literal["raise", "update", "clear"]


@dataclass(frozen=True, slots=True)
class AlertCandidate:
    """What a rule says. `raise` opens (or re-opens) the condition named by `dedupe_key`,
    `update` carries new values for an open one, `clear` ends it. The alert service turns
    candidates into alerts; one open alert per dedupe key."""

    rule_id: str  # stable, e.g. "vital.spo2.low", "news2", "fall.motion"
    action: Action
    subject: str  # "resident:42" or "unit:site-a/unit-1"
    dedupe_key: str
    severity: Severity
    ts: datetime  # the data time the condition was established (or cleared)
    title: str
    values: dict[str, float | str] = field(default_factory=dict)
    suggestion: str | None = None  # e.g. "referral" for NEWS2 >= 7
    audience: str | None = None  # e.g. "infection_control"; None: the unit's caregivers
    # The identity of the input it was computed from, set by the detector (rules leave it
    # None): replaying that input gives the same origin, which makes writing it idempotent.
    origin: str | None = None
    # When the data behind it reached the detector (the hand-off row's time), set by the alert
    # service on intake; None: live. Far after `ts`, the data was late (a backlog, a replay).
    arrived_at: datetime | None = None


def candidate(
    rule_id: str,
    action: Action,
    profile: ResidentProfile,
    ts: datetime,
    severity: Severity,
    title: str,
    *,
    key: str | None = None,
    **values: float | str,
) -> AlertCandidate:
    """A candidate about a resident; the dedupe key is the rule and `key` (default: the
    resident), so one condition per resident, or per device when `key` is its id."""
    return AlertCandidate(
        rule_id=rule_id,
        action=action,
        subject=profile.subject,
        dedupe_key=f"{rule_id}:{key or profile.subject}",
        severity=severity,
        ts=ts,
        title=title,
        values=dict(values),
    )


def resident_subject(resident_id: int) -> str:
    return f"resident:{resident_id}"


def unit_subject(site_id: str, unit_id: str) -> str:
    return f"unit:{site_id}/{unit_id}"


@dataclass(frozen=True, slots=True)
class ResidentProfile:
    """What the rules need to know about a resident, from the admission assessment."""

    resident_id: int
    site_id: str
    unit_id: str
    conditions: frozenset[str] = frozenset()  # e.g. "copd", "dementia", "hypercapnic_rf"
    fall_risk: bool = False
    news2_scale: Literal[1, 2] = 1
    timezone: str = "Asia/Shanghai"

    @property
    def subject(self) -> str:
        return resident_subject(self.resident_id)
