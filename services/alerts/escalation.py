"""Escalation policy (per site / unit, per severity, per special audience) and the pure decision
of who is paged now: `due_pages(incident, policy, roster, now)`.

Timing: step 1 (or the policy's start steps, paged together) is due when the incident is first
paged; step k+1 is due `timeout_s` of step k after step k was due (at once if step k had nobody
on duty). Every reached step is paged again every `renotify_every_s` until acknowledged.
Recipients are looked up in the roster at page time, so a shift change mid-escalation pages
whoever is on duty then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.types import Severity
from services.alerts.effects import Page
from services.alerts.model import Incident
from services.careteam.roster import Role, Roster, Staff, on_duty, resident_contacts

__all__ = [
    "DEVICE_PAGE",
    "DeviceRoute",
    "EscalationConfig",
    "SeverityPolicy",
    "Step",
    "Target",
    "UnitPolicy",
    "due_pages",
    "policy_for",
    "recipients",
]

# Roles are looked up on shift at the incident's site and unit; "resident_family" and
# "family_doctor" are the contacts linked to the resident (family beds, contracted doctors).
Target = Literal[
    "caregiver",
    "nurse",
    "charge_nurse",
    "physician",
    "infection_control",
    "disease_control",
    "technician",
    "resident_family",
    "family_doctor",
]


class PolicyModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Step(PolicyModel):
    who: tuple[Target, ...] = Field(min_length=1)
    timeout_s: float | None = Field(default=None, gt=0)  # before the next step; None: last
    renotify_every_s: float | None = Field(default=None, gt=0)  # None: paged once

    @model_validator(mode="after")
    def _unique(self) -> Self:
        if len(set(self.who)) != len(self.who):
            raise ValueError("a target appears twice in `who`")
        return self


class SeverityPolicy(PolicyModel):
    """Ordered steps. `start_step` > 1 starts there: with `include_earlier` the steps before it
    are paged at the same moment (several steps at once), without it they are skipped."""

    steps: tuple[Step, ...] = Field(min_length=1)
    start_step: int = Field(default=1, ge=1)
    include_earlier: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.start_step > len(self.steps):
            raise ValueError(f"start_step {self.start_step} but only {len(self.steps)} steps")
        for i, step in enumerate(self.steps[:-1], start=1):
            if step.timeout_s is None:
                raise ValueError(f"step {i} needs timeout_s: step {i + 1} would never be reached")
        if self.steps[-1].timeout_s is not None:
            raise ValueError("the last step has no next step: drop its timeout_s")
        return self

    def first_steps(self) -> range:
        """The steps paged together when the incident is first paged."""
        return range(1 if self.include_earlier else self.start_step, self.start_step + 1)


CAREGIVERS = Step(who=("caregiver",), timeout_s=120, renotify_every_s=60)
CHARGE_NURSE = Step(who=("charge_nurse",), timeout_s=180, renotify_every_s=120)
DOCTOR = Step(who=("physician", "family_doctor"), renotify_every_s=300)

# Step 2 two minutes after step 1, step 3 five minutes after step 1.
STANDARD = SeverityPolicy(steps=(CAREGIVERS, CHARGE_NURSE, DOCTOR))
# Low severity: the unit's caregivers, once; the feed shows it until resolved. (Device alerts,
# a low battery included, take their own route: `DeviceRoute`.)
LOW = SeverityPolicy(steps=(Step(who=("caregiver",)),))
CRITICAL = SeverityPolicy(
    steps=(
        Step(who=("caregiver", "charge_nurse"), timeout_s=120, renotify_every_s=30),
        Step(who=("physician", "family_doctor"), renotify_every_s=120),
    )
)
OUTBREAK = SeverityPolicy(
    steps=(Step(who=("infection_control", "disease_control"), renotify_every_s=3600),)
)


# A device alert (offline, wearable removed): the caregiver on shift, reminded every 15 minutes
# until someone acknowledges or the device is back. Never escalated to a physician.
DEVICE_PAGE = SeverityPolicy(steps=(Step(who=("caregiver",), renotify_every_s=900),))
# Targets a technical alert may never page: a device fault is not a clinical question.
CLINICAL_ONLY: frozenset[str] = frozenset({"physician", "family_doctor"})
QUEUED: dict[str, SeverityPolicy | None] = {"device.battery_low": None}


class DeviceRoute(PolicyModel):
    """Technical alerts (rules whose id starts with one of `rules`) get their own route: their
    own incidents under `audience` (the technical queue on the board, never grouped with a
    resident's clinical alerts), paged by `page`, or by `by_rule[rule_id]` where given; a
    policy of None means queue/board only (no page). A physician is never a target."""

    rules: tuple[str, ...] = ("device.",)
    audience: str = Field(default="technical", min_length=1, max_length=64)
    page: SeverityPolicy | None = DEVICE_PAGE
    # Low battery is a chore for the next round, not a page.
    by_rule: dict[str, SeverityPolicy | None] = Field(default_factory=lambda: dict(QUEUED))

    @model_validator(mode="after")
    def _never_clinical(self) -> Self:
        if any(not prefix for prefix in self.rules):
            raise ValueError("an empty rule prefix would make every alert technical")
        named = {"page": self.page} | {f"by_rule.{k}": v for k, v in self.by_rule.items()}
        for where, policy in named.items():
            for i, step in enumerate(policy.steps if policy else (), start=1):
                bad = CLINICAL_ONLY.intersection(step.who)
                if bad:
                    raise ValueError(
                        f"{where} step {i}: device alerts never page {', '.join(sorted(bad))}"
                    )
        return self

    def covers(self, rule_id: str) -> bool:
        return rule_id.startswith(self.rules)

    def policy(self, rule_ids: Iterable[str]) -> SeverityPolicy | None:
        """The route of an incident holding these rules' alerts: the first that pages."""
        for rule_id in rule_ids:
            chosen = self.by_rule.get(rule_id, self.page)
            if chosen is not None:
                return chosen
        return None


class UnitPolicy(PolicyModel):
    low: SeverityPolicy = LOW
    medium: SeverityPolicy = STANDARD
    high: SeverityPolicy = STANDARD
    critical: SeverityPolicy = CRITICAL


class EscalationConfig(PolicyModel):
    """Policies: `units["site/unit"]` over `sites["site"]` over `default`; an alert with an
    `audience` that has a policy here (e.g. "infection_control") follows that one instead."""

    default: UnitPolicy = UnitPolicy()
    sites: dict[str, UnitPolicy] = Field(default_factory=dict)
    units: dict[str, UnitPolicy] = Field(default_factory=dict)
    audiences: dict[str, SeverityPolicy] = Field(
        default_factory=lambda: {"infection_control": OUTBREAK}
    )

    @model_validator(mode="after")
    def _unit_keys(self) -> Self:
        bad = [k for k in self.units if k.count("/") != 1 or not all(k.split("/"))]
        if bad:
            raise ValueError(f"unit keys are 'site/unit', got {bad}")
        return self


def policy_for(
    config: EscalationConfig,
    *,
    site: str,
    unit: str | None,
    severity: Severity,
    audience: str | None = None,
) -> SeverityPolicy:
    if audience is not None and audience in config.audiences:
        return config.audiences[audience]
    unit_policy = config.units.get(f"{site}/{unit}") if unit is not None else None
    chosen = unit_policy or config.sites.get(site) or config.default
    policy: SeverityPolicy = getattr(chosen, severity)
    return policy


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
