"""What a notification says: who, where (unit / room / bed), what, the key values, when, and the
link to acknowledge. Pure text from the incident and what the I/O layer looked up about the
place; short, because it lands on a phone's lock screen (the title) and in SMS (the body)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.alerts.model import Alert, Incident, Outcome

__all__ = [
    "Fever",
    "Message",
    "Place",
    "acknowledged_message",
    "device_name",
    "page_message",
    "resolved_message",
    "update_message",
]

# Values worth a caregiver's glance, in this order; the rest stay on the board.
KEY_VALUES: tuple[tuple[str, str, str], ...] = (
    ("value", "value", ""),
    ("worst", "worst", ""),
    ("total", "NEWS2", ""),
    ("spo2", "SpO2", " %"),
    ("hr", "HR", " bpm"),
    ("rr", "RR", " /min"),
    ("temp", "temp", " °C"),
    ("sbp", "SBP", " mmHg"),
    ("battery", "battery", " %"),
    ("impact_g", "impact", " g"),
    ("still_s", "still for", " s"),
    ("away_min", "away", " min"),
)

# What people call each kind of device (`devices.kind`): a page names the one at fault.
DEVICE_KINDS: Mapping[str, str] = {
    "wearable": "wristband",
    "bed_sensor": "bed sensor",
    "gateway": "gateway",
}

OUTCOME_TEXT: Mapping[Outcome, str] = {
    "actionable": "actionable",
    "false_alarm": "false alarm",
    "already_attended": "already attended",
    "self_cleared": "condition over",
}


@dataclass(frozen=True, slots=True)
class Place:
    """Where the incident is, as people say it. `resident` is None for unit-level incidents."""

    site: str
    unit: str | None
    resident: str | None = None
    room: str | None = None
    bed: str | None = None

    def where(self) -> str:
        parts = [self.site]
        if self.unit:
            parts.append(f"unit {self.unit}")
        if self.room:
            parts.append(f"room {self.room}")
        if self.bed:
            parts.append(f"bed {self.bed}")
        return ", ".join(parts)

    def who(self) -> str:
        return self.resident or (f"unit {self.unit}" if self.unit else self.site)


@dataclass(frozen=True, slots=True)
class Fever:
    """One resident of an outbreak cluster: name, highest temperature in the window, when."""

    resident: str
    temp_c: float
    at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str


def _values(values: Mapping[str, float | str]) -> str:
    shown = []
    for key, label, unit in KEY_VALUES:
        if key in values:
            value = values[key]
            text = f"{value:g}" if isinstance(value, float | int) else str(value)
            shown.append(f"{label} {text}{unit}")
    return ", ".join(shown)


def device_name(values: Mapping[str, float | str]) -> str | None:
    """ "wristband w-17" for an alert about a device (its kind looked up on intake)."""
    device_id = values.get("device_id")
    if device_id is None:
        return None
    kind = DEVICE_KINDS.get(str(values.get("device_kind", "")), "device")
    return f"{kind} {device_id}"


def _named(alert: Alert) -> str:
    device = device_name(alert.values)
    return f"{alert.title} ({device})" if device else alert.title


def _local(ts: datetime, tz: str) -> str:
    return ts.astimezone(ZoneInfo(tz)).strftime("%H:%M:%S")


def page_message(
    incident: Incident,
    place: Place,
    *,
    step: int,
    renotify: bool,
    link: str | None,
    fevers: Sequence[Fever] = (),
) -> Message:
    open_alerts = [a for a in incident.alerts if a.resolution is None] or list(incident.alerts)
    what = " + ".join(dict.fromkeys(_named(a) for a in open_alerts))
    severity = incident.severity.upper()
    again = "REMINDER " if renotify else ""
    title = f"{again}[{severity}] {what} — {place.who()}"
    lines = [f"{what}", f"Who: {place.who()}", f"Where: {place.where()}"]
    for alert in open_alerts:
        shown = _values(alert.values)
        if shown:
            lines.append(f"{_named(alert)}: {shown}")
    if fevers:
        lines.append(f"Febrile residents ({len(fevers)}):")
        lines += [
            f"  {f.resident}: {f.temp_c:.1f} °C at "
            f"{f.at.astimezone(ZoneInfo(incident.timezone)):%m-%d %H:%M}"
            for f in fevers
        ]
    first = min(a.first_ts for a in incident.alerts)
    lines.append(f"Since: {_local(first, incident.timezone)}")
    if step > 1:
        lines.append(f"Escalation step {step}: nobody has acknowledged yet.")
    if link:
        lines.append(f"Acknowledge: {link}")
    return Message(title, "\n".join(lines))


def acknowledged_message(incident: Incident, place: Place, *, by: str) -> Message:
    return Message(
        f"Acknowledged — {place.who()}",
        f"{by} is on it: {_summary(incident)} ({place.where()}). No action needed from you.",
    )


def update_message(incident: Incident, place: Place, *, title: str, severity: str) -> Message:
    return Message(
        f"[{severity.upper()}] Worse — {place.who()}",
        f"{title} ({place.where()}). Already acknowledged; the severity rose to {severity}.",
    )


def resolved_message(incident: Incident, place: Place, *, by: str, outcome: Outcome) -> Message:
    return Message(
        f"Resolved — {place.who()}",
        f"{_summary(incident)} ({place.where()}) was resolved by {by}: {OUTCOME_TEXT[outcome]}.",
    )


def _summary(incident: Incident) -> str:
    return " + ".join(dict.fromkeys(_named(a) for a in incident.alerts))
