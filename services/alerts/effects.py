"""What the pure core asks the I/O layer to do after an operation: store and publish timeline
events, send pages, tell the people paged that an incident was acknowledged, updated or resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rules.types import Severity
from services.alerts.model import AlertEvent, Outcome
from services.careteam.roster import Staff

__all__ = ["Effect", "Page", "Record", "SendAcknowledged", "SendResolved", "SendUpdate"]


@dataclass(frozen=True, slots=True)
class Record:
    """Store this timeline event (and push it to the live feed)."""

    incident_id: int
    event: AlertEvent


@dataclass(frozen=True, slots=True)
class Page:
    """Notify `recipients` (each through their channels, primary first) about the incident.
    `targets` are the step's `who` this page covers; `missing` those with nobody on duty: a page
    with no recipients at all must still surface (to an administrator, the live feed)."""

    incident_id: int
    step: int
    due_at: datetime  # when the step was due (the escalation clock); the page is sent now
    recipients: tuple[Staff, ...]
    targets: tuple[str, ...]
    missing: tuple[str, ...]
    severity: Severity
    subject: str
    title: str
    renotify: bool = False


@dataclass(frozen=True, slots=True)
class SendAcknowledged:
    incident_id: int
    by: str
    to: tuple[Staff, ...]


@dataclass(frozen=True, slots=True)
class SendUpdate:
    """The severity of an already acknowledged incident rose: tell whoever was paged."""

    incident_id: int
    alert_id: int
    severity: Severity
    title: str
    to: tuple[Staff, ...]


@dataclass(frozen=True, slots=True)
class SendResolved:
    """The whole incident is resolved (`outcome` of the alert that closed it)."""

    incident_id: int
    by: str
    outcome: Outcome
    to: tuple[Staff, ...]


Effect = Record | Page | SendAcknowledged | SendUpdate | SendResolved
