"""Paging as time passes: which escalation steps of an incident are due now (a held late-data
incident waits out its hold first), and the page recorded on the incident: its status,
escalation clock, who was paged and the timeline. Pure: `now` is a parameter."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rules.types import SEVERITY_ORDER
from services.alerts.effects import Effect, Page, Record
from services.alerts.escalation import due_pages
from services.alerts.model import (
    AlertBook,
    AlertEvent,
    EscalatedEvent,
    Incident,
    NotifiedEvent,
    check_transition,
)
from services.careteam.policy import AlertsConfig, SeverityPolicy, policy_for
from services.careteam.roster import Roster

__all__ = ["page_due", "policy_of", "record_page"]


def page_due(
    book: AlertBook, incident_id: int, *, now: datetime, config: AlertsConfig, roster: Roster
) -> tuple[AlertBook, list[Effect]]:
    """Page what is due of the incident now (nothing while held or without a policy)."""
    incident = book.incidents[incident_id]
    if incident.held_until is not None:
        if now < incident.held_until:
            return book, []
        incident = replace(incident, held_until=None)  # still open after the hold: page it
        book = _put(book, incident)
    policy = policy_of(incident, config)
    if policy is None:
        return book, []  # queue/board only
    first = policy.first_steps()
    effects: list[Effect] = []
    for page in due_pages(incident, policy, roster, now):
        escalates = page.step > first.stop - 1
        incident, recorded = record_page(incident, page, now=now, escalates=escalates)
        effects.append(page)
        effects += [Record(incident.id, e) for e in recorded]
    return _put(book, incident), effects


def policy_of(incident: Incident, config: AlertsConfig) -> SeverityPolicy | None:
    """The policy that pages this incident; None: it goes to the queue and board only."""
    if incident.audience == config.devices.audience:
        # Technical: the device route of its open alerts, most severe first; never clinical.
        open_alerts = [a for a in incident.alerts if a.resolution is None]
        ranked = sorted(open_alerts, key=lambda a: -SEVERITY_ORDER[a.severity])
        return config.devices.policy(a.rule_id for a in ranked)
    return policy_for(
        config.escalation,
        site=incident.site_id,
        unit=incident.unit_id,
        severity=incident.severity,
        audience=incident.audience,
    )


def record_page(
    incident: Incident, page: Page, *, now: datetime, escalates: bool
) -> tuple[Incident, list[AlertEvent]]:
    """The incident once `page` went out: notified (or escalated, for a later step reached the
    first time), its escalation clock and the people paged, and the events for its timeline."""
    events: list[AlertEvent] = []
    esc = incident.escalation
    first_of_step = page.step not in esc.reached
    status = incident.status
    if first_of_step and escalates:
        check_transition(incident.id, status, "escalated")
        status = "escalated"
        events.append(EscalatedEvent(ts=now, step=page.step))
    elif status == "open":
        check_transition(incident.id, status, "notified")
        status = "notified"
    recipients = tuple(s.id for s in page.recipients)
    events.append(NotifiedEvent(now, page.step, recipients, renotify=page.renotify))
    targets = esc.paged_targets.get(page.step, frozenset()) | set(page.targets)
    esc = replace(
        esc,
        # The escalation clock runs from when the first steps were due, not from when a
        # (possibly late) tick got round to paging them.
        started_at=esc.started_at or page.due_at,
        reached={**esc.reached, page.step: esc.reached.get(page.step, page.due_at)},
        last_paged={**esc.last_paged, page.step: now},
        paged_targets={**esc.paged_targets, page.step: frozenset(targets)},
        unstaffed=esc.unstaffed | ({page.step} if first_of_step and not recipients else set()),
    )
    known = {s.id for s in incident.paged}
    paged = incident.paged + tuple(s for s in page.recipients if s.id not in known)
    incident = replace(
        incident,
        status=status,
        escalation=esc,
        paged=paged,
        timeline=(*incident.timeline, *events),
    )
    return incident, events


def _put(book: AlertBook, incident: Incident) -> AlertBook:
    return replace(book, incidents={**book.incidents, incident.id: incident})
