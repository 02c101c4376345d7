"""The alert state machine over a book of incidents: candidates in, staff commands in, time
passing in; a new book and the effects for the I/O layer out. Pure: `now` is a parameter.

An incident is what gets paged: `open → notified → escalated* → acknowledged → resolved` (see
`model.TRANSITIONS`). Each alert in it is one dedupe key; repeats update it without paging
again, a severity rise pages only what the stricter policy adds. `clear` resolves self-clearing
(device) alerts as "self_cleared" and otherwise only marks `condition_cleared`: a clinical alert
keeps escalating until a person acknowledges it. The incident is resolved when its last alert is.

Technical (device) alerts take their own route (`AlertsConfig.devices`): their own incidents
under the technical audience, paged by the device policy or not at all. Late data
(`AlertsConfig.late`) opens a held incident: paged only if still open once the hold passes or
live data confirms it; ended before that, it is filed as history, resolved and never paged.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from rules.types import SEVERITY_ORDER, AlertCandidate
from services.alerts.effects import (
    Effect,
    Record,
    SendAcknowledged,
    SendResolved,
    SendUpdate,
)
from services.alerts.errors import IllegalTransition, ResolutionError, UnknownAlert, UnknownSubject
from services.alerts.model import (
    STAFF_OUTCOMES,
    AckEvent,
    Acknowledgement,
    Alert,
    AlertBook,
    AlertEvent,
    ClearedEvent,
    ClosedEvent,
    CreatedEvent,
    Incident,
    Outcome,
    Resolution,
    ResolvedEvent,
    UpdatedEvent,
    check_transition,
)
from services.alerts.paging import page_due
from services.careteam.policy import AlertsConfig
from services.careteam.roster import Roster

__all__ = [
    "MAX_NOTE",
    "acknowledge",
    "acknowledge_incident",
    "apply_candidate",
    "forget",
    "resolve",
    "tick",
]

MAX_NOTE = 2000
SYSTEM = "system"
# The resolution note of a late condition that had ended before its data arrived.
HISTORY_NOTE = "late data: the condition had ended before its data arrived; recorded, not paged"

Result = tuple[AlertBook, list[Effect]]


def apply_candidate(
    book: AlertBook,
    candidate: AlertCandidate,
    *,
    now: datetime,
    config: AlertsConfig,
    roster: Roster,
) -> Result:
    """Take one rule candidate: open, update or clear its alert, and page what is due now."""
    route = config.devices
    if route.covers(candidate.rule_id) and candidate.audience != route.audience:
        candidate = replace(candidate, audience=route.audience)  # the technical queue
    late = config.late.is_late(candidate)
    alert_id = book.open_keys.get(candidate.dedupe_key)
    if candidate.action == "clear":
        if alert_id is None:
            return book, []  # nothing open (already resolved by staff, or never raised)
        return _clear(book, alert_id, candidate, now=now, config=config)
    if alert_id is not None:
        book, effects, incident_id = _update(book, alert_id, candidate, now=now)
    else:
        place = _place(candidate.subject, roster, config)
        fresh = book.next_incident_id
        book, effects, incident_id = _open(book, candidate, place, now=now, config=config)
        if late and incident_id == fresh and config.late.hold_s > 0:
            # A new incident from late data: held, its end may be right behind it.
            held = now + timedelta(seconds=config.late.hold_s)
            book = _put(book, replace(book.incidents[incident_id], held_until=held))
    if not late and book.incidents[incident_id].held_until is not None:
        # Live data about the held incident: the condition is going on now.
        book = _put(book, replace(book.incidents[incident_id], held_until=None))
    book, paged = page_due(book, incident_id, now=now, config=config, roster=roster)
    return book, effects + paged


def tick(book: AlertBook, *, now: datetime, config: AlertsConfig, roster: Roster) -> Result:
    """Let time pass: page every active incident's due steps and renotifications."""
    effects: list[Effect] = []
    for incident_id in sorted(book.incidents):
        if book.incidents[incident_id].active:
            book, paged = page_due(book, incident_id, now=now, config=config, roster=roster)
            effects += paged
    return book, effects


def acknowledge(book: AlertBook, alert_id: int, *, by: str, via: str, now: datetime) -> Result:
    """A person acknowledges the alert, and with it its incident (the page was the incident's):
    escalation stops. Refused (IllegalTransition) once acknowledged or resolved."""
    incident = _incident_of(book, alert_id)
    if incident.alert(alert_id).resolution is not None:
        raise IllegalTransition("alert", alert_id, "resolved", "acknowledged")
    return acknowledge_incident(book, incident.id, by=by, via=via, now=now)


def acknowledge_incident(
    book: AlertBook, incident_id: int, *, by: str, via: str, now: datetime
) -> Result:
    incident = _incident(book, incident_id)
    incident, effects = _ack(incident, by=by, via=via, now=now)
    return _put(book, incident), effects


def resolve(
    book: AlertBook,
    alert_id: int,
    *,
    by: str,
    outcome: str | None,
    note: str | None = None,
    now: datetime,
) -> Result:
    """A person resolves one alert with an outcome (actionable, false_alarm, already_attended)
    and an optional note. Resolving an unacknowledged incident's alert acknowledges the incident
    (via "resolve"). The incident is resolved with its last alert."""
    checked, note = _check_resolution(outcome, note)
    incident = _incident_of(book, alert_id)
    if incident.alert(alert_id).resolution is not None:
        raise IllegalTransition("alert", alert_id, "resolved", "resolved")
    effects: list[Effect] = []
    if incident.active:
        incident, effects = _ack(incident, by=by, via="resolve", now=now)
    book, more = _resolve_alert(
        _put(book, incident), incident.id, alert_id, by=by, outcome=checked, note=note, now=now
    )
    return book, effects + more


def forget(book: AlertBook, incident_id: int) -> AlertBook:
    """Drop a resolved incident (once the I/O layer has stored it)."""
    incident = _incident(book, incident_id)
    if incident.status != "resolved":
        raise IllegalTransition("incident", incident_id, incident.status, "forgotten")
    incidents = {k: v for k, v in book.incidents.items() if k != incident_id}
    ids = {a.id for a in incident.alerts}
    index = {k: v for k, v in book.alert_incident.items() if k not in ids}
    return replace(book, incidents=incidents, alert_incident=index)


# -- candidates ------------------------------------------------------------------------------


def _open(
    book: AlertBook,
    candidate: AlertCandidate,
    place: _Place,
    *,
    now: datetime,
    config: AlertsConfig,
) -> tuple[AlertBook, list[Effect], int]:
    host = _grouping_host(book, candidate, config)
    alert_id = book.next_alert_id
    if host is None:
        site_id, unit_id, timezone, resident_id = place
        host = Incident(
            id=book.next_incident_id,
            subject=candidate.subject,
            audience=candidate.audience,
            site_id=site_id,
            unit_id=unit_id,
            timezone=timezone,
            resident_id=resident_id,
            opened_at=now,
            first_ts=candidate.ts,
        )
        book = replace(book, next_incident_id=book.next_incident_id + 1)
    alert = Alert(
        id=alert_id,
        incident_id=host.id,
        rule_id=candidate.rule_id,
        dedupe_key=candidate.dedupe_key,
        subject=candidate.subject,
        audience=candidate.audience,
        title=candidate.title,
        severity=candidate.severity,
        opened_at=now,
        first_ts=candidate.ts,
        last_ts=candidate.ts,
        values=dict(candidate.values),
        suggestion=candidate.suggestion,
    )
    event = CreatedEvent(
        ts=now,
        alert_id=alert_id,
        rule_id=candidate.rule_id,
        severity=candidate.severity,
        title=candidate.title,
        data_ts=candidate.ts,
        joined=bool(host.alerts),
    )
    incident = replace(
        host,
        alerts=(*host.alerts, alert),
        first_ts=min(host.first_ts, candidate.ts),
        timeline=(*host.timeline, event),
    )
    book = replace(
        _put(book, incident),
        open_keys={**book.open_keys, candidate.dedupe_key: alert_id},
        alert_incident={**book.alert_incident, alert_id: incident.id},
        next_alert_id=alert_id + 1,
    )
    return book, [Record(incident.id, event)], incident.id


def _grouping_host(
    book: AlertBook, candidate: AlertCandidate, config: AlertsConfig
) -> Incident | None:
    """The newest active incident about the same subject and audience whose first alert is
    within the grouping window of this one (either side: data can arrive out of order).
    An acknowledged incident takes no new conditions: a new one pages again."""
    window = timedelta(seconds=config.grouping_window_s)
    hosts = [
        i
        for i in book.incidents.values()
        if i.active
        and i.subject == candidate.subject
        and i.audience == candidate.audience
        and abs(candidate.ts - i.first_ts) <= window
    ]
    return max(hosts, key=lambda i: i.id, default=None)


_Place = tuple[str, str | None, str, int | None]  # site, unit, time zone, resident id


def _place(subject: str, roster: Roster, config: AlertsConfig) -> _Place:
    """Where a subject is, so its incident can be routed: residents through the roster,
    units and sites from the subject itself."""
    kind, _, rest = subject.partition(":")
    if kind == "resident":
        if not rest.isdigit():
            raise UnknownSubject(subject, "a resident subject is 'resident:<id>'")
        contacts = roster.residents.get(int(rest))
        if contacts is None:
            raise UnknownSubject(subject, "the roster does not place this resident at a site")
        return contacts.site_id, contacts.unit_id, contacts.timezone, contacts.resident_id
    if kind == "unit":
        site, _, unit = rest.partition("/")
        if not site or not unit:
            raise UnknownSubject(subject, "a unit subject is 'unit:<site>/<unit>'")
        return site, unit, config.timezone_of(site), None
    if kind == "site" and rest and "/" not in rest:
        # A site's outbreak cluster: routed to the site's staff (site-wide shifts).
        return rest, None, config.timezone_of(rest), None
    raise UnknownSubject(
        subject, "subjects are 'resident:<id>', 'unit:<site>/<unit>' or 'site:<site>'"
    )


def _update(
    book: AlertBook, alert_id: int, candidate: AlertCandidate, *, now: datetime
) -> tuple[AlertBook, list[Effect], int]:
    """A repeat (raise or update) of an open alert: count, latest values, severity may rise."""
    incident = book.incident_of(alert_id)
    alert = incident.alert(alert_id)
    raised = SEVERITY_ORDER[candidate.severity] > SEVERITY_ORDER[alert.severity]
    updated = replace(
        alert,
        count=alert.count + 1,
        values=dict(candidate.values) or alert.values,
        title=candidate.title,
        severity=candidate.severity if raised else alert.severity,
        last_ts=max(alert.last_ts, candidate.ts),
        suggestion=candidate.suggestion or alert.suggestion,
        condition_cleared=False,
    )
    event = UpdatedEvent(
        ts=now,
        alert_id=alert_id,
        count=updated.count,
        severity=updated.severity,
        values=updated.values,
        severity_raised=raised,
        recurred=alert.condition_cleared,
    )
    incident = _with_alert(incident, updated, event)
    effects: list[Effect] = [Record(incident.id, event)]
    if raised and incident.status == "acknowledged":
        # No more paging once someone is on it, but they must hear that it got worse.
        effects.append(
            SendUpdate(incident.id, alert_id, updated.severity, updated.title, incident.paged)
        )
    return _put(book, incident), effects, incident.id


def _clear(
    book: AlertBook,
    alert_id: int,
    candidate: AlertCandidate,
    *,
    now: datetime,
    config: AlertsConfig,
) -> Result:
    incident = book.incident_of(alert_id)
    alert = incident.alert(alert_id)
    if incident.held_until is not None:
        # Late data, and it ended before anyone was paged: history, not a page.
        return _resolve_alert(
            book,
            incident.id,
            alert_id,
            by=SYSTEM,
            outcome="self_cleared",
            note=HISTORY_NOTE,
            now=now,
        )
    if config.self_clearing(alert.rule_id):
        return _resolve_alert(
            book, incident.id, alert_id, by=SYSTEM, outcome="self_cleared", note=None, now=now
        )
    if alert.condition_cleared:
        return book, []
    event = ClearedEvent(ts=now, alert_id=alert_id, data_ts=candidate.ts)
    incident = _with_alert(incident, replace(alert, condition_cleared=True), event)
    return _put(book, incident), [Record(incident.id, event)]


# -- staff -----------------------------------------------------------------------------------


def _ack(incident: Incident, *, by: str, via: str, now: datetime) -> tuple[Incident, list[Effect]]:
    check_transition(incident.id, incident.status, "acknowledged")
    event = AckEvent(ts=now, by=by, via=via)
    incident = replace(
        incident,
        status="acknowledged",
        acknowledgement=Acknowledgement(at=now, by=by, via=via),
        timeline=(*incident.timeline, event),
    )
    effects: list[Effect] = [Record(incident.id, event)]
    if incident.paged:
        effects.append(SendAcknowledged(incident.id, by, incident.paged))
    return incident, effects


def _check_resolution(outcome: str | None, note: str | None) -> tuple[Outcome, str | None]:
    if not outcome:
        raise ResolutionError(f"resolving needs an outcome: one of {', '.join(STAFF_OUTCOMES)}")
    for allowed in STAFF_OUTCOMES:
        if outcome == allowed:
            break
    else:
        raise ResolutionError(f"unknown outcome {outcome!r}: one of {', '.join(STAFF_OUTCOMES)}")
    if note is not None:
        note = note.strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise ResolutionError(f"the note is {len(note)} characters; at most {MAX_NOTE}")
    return allowed, note


def _resolve_alert(
    book: AlertBook,
    incident_id: int,
    alert_id: int,
    *,
    by: str,
    outcome: Outcome,
    note: str | None,
    now: datetime,
) -> Result:
    incident = book.incidents[incident_id]
    alert = incident.alert(alert_id)
    event = ResolvedEvent(ts=now, alert_id=alert_id, by=by, outcome=outcome, note=note)
    resolved = replace(alert, resolution=Resolution(at=now, by=by, outcome=outcome, note=note))
    incident = _with_alert(incident, resolved, event)
    effects: list[Effect] = [Record(incident.id, event)]
    if all(a.resolution is not None for a in incident.alerts):
        check_transition(incident.id, incident.status, "resolved")
        closed = ClosedEvent(ts=now)
        incident = replace(incident, status="resolved", timeline=(*incident.timeline, closed))
        effects.append(Record(incident.id, closed))
        if incident.paged:
            effects.append(SendResolved(incident.id, by, outcome, incident.paged))
    keys = {k: v for k, v in book.open_keys.items() if v != alert_id}
    return replace(_put(book, incident), open_keys=keys), effects


# -- helpers ---------------------------------------------------------------------------------


def _incident(book: AlertBook, incident_id: int) -> Incident:
    try:
        return book.incidents[incident_id]
    except KeyError:
        raise UnknownAlert("incident", incident_id) from None


def _incident_of(book: AlertBook, alert_id: int) -> Incident:
    try:
        return book.incident_of(alert_id)
    except KeyError:
        raise UnknownAlert("alert", alert_id) from None


def _with_alert(incident: Incident, alert: Alert, event: AlertEvent) -> Incident:
    alerts = tuple(alert if a.id == alert.id else a for a in incident.alerts)
    return replace(incident, alerts=alerts, timeline=(*incident.timeline, event))


def _put(book: AlertBook, incident: Incident) -> AlertBook:
    return replace(book, incidents={**book.incidents, incident.id: incident})
