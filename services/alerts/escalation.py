"""Who is paged now: `due_pages(incident, policy, roster, now)`, the pure decision over an
escalation policy (its models live with the care team document, services/careteam/policy.py).

Timing: step 1 (or the policy's start steps, paged together) is due when the incident is first
paged; step k+1 is due `timeout_s` of step k after step k was due (at once if step k had nobody
on duty). Every reached step is paged again every `renotify_every_s` until acknowledged.
Recipients are looked up in the roster at page time, so a shift change mid-escalation pages
whoever is on duty then.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from services.alerts.effects import Page
from services.alerts.model import Incident
from services.careteam.policy import SeverityPolicy
from services.careteam.roster import Role, Roster, Staff, on_duty, resident_contacts

__all__ = ["due_pages", "recipients"]


def recipients(
    incident: Incident, targets: tuple[str, ...], roster: Roster, at: datetime
) -> tuple[tuple[Staff, ...], tuple[str, ...]]:
    """Who `targets` mean for this incident at `at`, each once; and the targets nobody covers."""
    found: dict[str, Staff] = {}
    missing: list[str] = []
    for target in targets:
        if target == "resident_family":
            people = _linked(incident, roster, "family")
        elif target == "family_doctor":
            people = _linked(incident, roster, "family_doctor")
        else:
            role: Role = target  # type: ignore[assignment]  # the other targets are roles
            people = on_duty(
                roster, incident.site_id, incident.unit_id, role, at, incident.timezone
            )
        if not people:
            missing.append(target)
        for person in people:
            found.setdefault(person.id, person)
    return tuple(found.values()), tuple(missing)


def _linked(
    incident: Incident, roster: Roster, kind: Literal["family", "family_doctor"]
) -> list[Staff]:
    if incident.resident_id is None:
        return []
    return resident_contacts(roster, incident.resident_id, kind)


def due_pages(
    incident: Incident, policy: SeverityPolicy, roster: Roster, now: datetime
) -> list[Page]:
    """The pages to send for `incident` at `now`: steps newly due, targets a severity rise
    added to a reached step, and renotifications due. Empty once acknowledged or resolved.
    Never pages a step again within its `renotify_every_s`."""
    if not incident.active:
        return []
    esc = incident.escalation
    anchor = esc.started_at or now
    reached = dict(esc.reached)
    unstaffed = set(esc.unstaffed)
    pages: list[Page] = []

    def page(step: int, due: datetime, targets: tuple[str, ...], *, renotify: bool) -> Page:
        people, missing = recipients(incident, targets, roster, now)
        return Page(
            incident_id=incident.id,
            step=step,
            due_at=due,
            recipients=people,
            targets=targets,
            missing=missing,
            severity=incident.severity,
            subject=incident.subject,
            title=_title(incident),
            renotify=renotify,
        )

    first = policy.first_steps()
    for number in range(first.start, len(policy.steps) + 1):
        step = policy.steps[number - 1]
        if number in reached:
            owed = tuple(t for t in step.who if t not in esc.paged_targets.get(number, ()))
            every = step.renotify_every_s
            last = esc.last_paged.get(number, reached[number])
            if every is not None and now - last >= timedelta(seconds=every):
                pages.append(page(number, reached[number], step.who, renotify=True))
            elif owed:
                pages.append(page(number, reached[number], owed, renotify=False))
            continue
        if number in first:
            due = anchor
        else:
            previous = number - 1
            if previous not in reached:
                break
            timeout = policy.steps[previous - 1].timeout_s or 0.0
            delay = timedelta(0) if previous in unstaffed else timedelta(seconds=timeout)
            due = reached[previous] + delay
        if now < due:
            break
        new = page(number, due, step.who, renotify=False)
        pages.append(new)
        reached[number] = due
        if not new.recipients:
            unstaffed.add(number)
    return pages


def _title(incident: Incident) -> str:
    open_alerts = [a for a in incident.alerts if a.resolution is None] or list(incident.alerts)
    return " + ".join(dict.fromkeys(a.title for a in open_alerts))
