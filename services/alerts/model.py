"""The alert core's state: alerts (one per open dedupe key), incidents (the alerts of one subject
grouped in a window; the unit that is paged, escalated and acknowledged), their timelines, and
the book of them all. Frozen values: every operation returns a new book.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Final, Literal

from rules.types import SEVERITY_ORDER, Severity
from services.alerts.errors import IllegalTransition
from services.careteam.roster import Staff

__all__ = [
    "STAFF_OUTCOMES",
    "TRANSITIONS",
    "AckEvent",
    "Acknowledgement",
    "Alert",
    "AlertBook",
    "AlertEvent",
    "ClearedEvent",
    "ClosedEvent",
    "CreatedEvent",
    "EscalatedEvent",
    "Escalation",
    "Incident",
    "IncidentStatus",
    "NotifiedEvent",
    "Outcome",
    "Resolution",
    "ResolvedEvent",
    "StaffOutcome",
    "UpdatedEvent",
    "check_transition",
]

IncidentStatus = Literal["open", "notified", "escalated", "acknowledged", "resolved"]

# Staff choose one of these; "self_cleared" is the service's own, for self-clearing (device) rules.
StaffOutcome = Literal["actionable", "false_alarm", "already_attended"]
Outcome = Literal["actionable", "false_alarm", "already_attended", "self_cleared"]
STAFF_OUTCOMES: Final[tuple[StaffOutcome, ...]] = ("actionable", "false_alarm", "already_attended")

# The state machine of an incident. Re-notifying a step is not a transition (the status stays);
# "escalated" → "escalated" is each further step. Resolving straight from open/notified/escalated
# is allowed and records an implicit acknowledgement by whoever resolved.
TRANSITIONS: Final[Mapping[IncidentStatus, frozenset[IncidentStatus]]] = {
    "open": frozenset({"notified", "acknowledged", "resolved"}),
    "notified": frozenset({"escalated", "acknowledged", "resolved"}),
    "escalated": frozenset({"escalated", "acknowledged", "resolved"}),
    "acknowledged": frozenset({"resolved"}),
    "resolved": frozenset(),
}
ACTIVE: Final[frozenset[IncidentStatus]] = frozenset({"open", "notified", "escalated"})


def check_transition(incident_id: int, source: IncidentStatus, target: IncidentStatus) -> None:
    """Raise IllegalTransition unless the state machine allows `source` → `target`."""
    if target not in TRANSITIONS[source]:
        raise IllegalTransition("incident", incident_id, source, target)


# Timeline events. `ts` is the service's `now` when it happened; `alert_id` None: the whole
# incident.


@dataclass(frozen=True, slots=True)
class CreatedEvent:
    ts: datetime
    alert_id: int
    rule_id: str
    severity: Severity
    title: str
    data_ts: datetime
    joined: bool  # True: joined an existing incident (grouping window)


@dataclass(frozen=True, slots=True)
class UpdatedEvent:
    ts: datetime
    alert_id: int
    count: int
    severity: Severity
    values: Mapping[str, float | str]
    severity_raised: bool = False
    recurred: bool = False  # the condition had cleared and came back


@dataclass(frozen=True, slots=True)
class NotifiedEvent:
    ts: datetime
    step: int
    recipients: tuple[str, ...]  # staff ids
    renotify: bool = False
    alert_id: None = None


@dataclass(frozen=True, slots=True)
class EscalatedEvent:
    ts: datetime
    step: int
    alert_id: None = None


@dataclass(frozen=True, slots=True)
class AckEvent:
    ts: datetime
    by: str
    via: str
    alert_id: None = None


@dataclass(frozen=True, slots=True)
class ClearedEvent:
    ts: datetime
    alert_id: int
    data_ts: datetime


@dataclass(frozen=True, slots=True)
class ResolvedEvent:
    ts: datetime
    alert_id: int
    by: str
    outcome: Outcome
    note: str | None


@dataclass(frozen=True, slots=True)
class ClosedEvent:
    """Every alert of the incident is resolved."""

    ts: datetime
    alert_id: None = None


AlertEvent = (
    CreatedEvent
    | UpdatedEvent
    | NotifiedEvent
    | EscalatedEvent
    | AckEvent
    | ClearedEvent
    | ResolvedEvent
    | ClosedEvent
)


@dataclass(frozen=True, slots=True)
class Resolution:
    at: datetime
    by: str
    outcome: Outcome
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    at: datetime
    by: str
    via: str


@dataclass(frozen=True, slots=True)
class Alert:
    """One condition (dedupe key) while it is open. `severity` is the highest seen while open
    (escalation never steps down on its own); `values` and `title` are the latest."""

    id: int
    incident_id: int
    rule_id: str
    dedupe_key: str
    subject: str
    audience: str | None
    title: str
    severity: Severity
    opened_at: datetime
    first_ts: datetime
    last_ts: datetime
    count: int = 1
    values: Mapping[str, float | str] = field(default_factory=dict)
    suggestion: str | None = None
    condition_cleared: bool = False
    resolution: Resolution | None = None


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where an incident's paging stands. Steps are numbered from 1 in the policy in force.
    `reached[k]` is the (scheduled) time step k was first paged, the clock its successor's
    timeout counts from; `paged_targets[k]` what of step k's `who` has been paged (a severity
    rise can add targets to a reached step: only the new ones are paged); `unstaffed` steps
    had nobody to page, so the next step is due at once."""

    started_at: datetime | None = None
    reached: Mapping[int, datetime] = field(default_factory=dict)
    last_paged: Mapping[int, datetime] = field(default_factory=dict)
    paged_targets: Mapping[int, frozenset[str]] = field(default_factory=dict)
    unstaffed: frozenset[int] = frozenset()

    @property
    def step(self) -> int:
        """The highest step reached (0: not paged yet)."""
        return max(self.reached, default=0)


@dataclass(frozen=True, slots=True)
class Incident:
    """Alerts about one subject (and audience) that began within the grouping window."""

    id: int
    subject: str
    audience: str | None
    site_id: str
    unit_id: str | None
    timezone: str
    resident_id: int | None
    opened_at: datetime
    first_ts: datetime  # earliest data time of its alerts: the grouping window's anchor
    status: IncidentStatus = "open"
    alerts: tuple[Alert, ...] = ()
    escalation: Escalation = field(default_factory=Escalation)
    acknowledgement: Acknowledgement | None = None
    paged: tuple[Staff, ...] = ()  # everyone paged so far, first page order
    timeline: tuple[AlertEvent, ...] = ()
    # Opened by late data: not paged before this (service time), so that the condition's end,
    # arriving in the same backlog, can file it as history instead. None: page as usual.
    held_until: datetime | None = None

    def __setstate__(self, state: list[object]) -> None:
        # A book saved before a field was added lacks its value: it takes its default.
        for i, f in enumerate(fields(self)):
            if i < len(state):
                value = state[i]
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:
                value = f.default
            object.__setattr__(self, f.name, value)

    @property
    def severity(self) -> Severity:
        return max((a.severity for a in self.alerts), key=SEVERITY_ORDER.__getitem__)

    @property
    def active(self) -> bool:
        """Unacknowledged and unresolved: still being paged."""
        return self.status in ACTIVE

    def alert(self, alert_id: int) -> Alert:
        for a in self.alerts:
            if a.id == alert_id:
                return a
        raise KeyError(alert_id)


@dataclass(frozen=True, slots=True)
class AlertBook:
    """The incidents the service holds in memory, by id, with their alerts. Resolved incidents
    stay until `forget` (after the I/O layer stored them), so late commands on them get a clear
    IllegalTransition rather than "unknown". Ids are counters kept in the book (the I/O layer
    restores them from the database on start)."""

    incidents: Mapping[int, Incident] = field(default_factory=dict)
    open_keys: Mapping[str, int] = field(default_factory=dict)  # dedupe key → alert id
    alert_incident: Mapping[int, int] = field(default_factory=dict)  # alert id → incident id
    next_alert_id: int = 1
    next_incident_id: int = 1

    def incident_of(self, alert_id: int) -> Incident:
        return self.incidents[self.alert_incident[alert_id]]
