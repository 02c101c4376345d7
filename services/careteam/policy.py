"""The alert policy of the care team document (its `alerts:` section): the escalation policy
per site / unit, per severity and per special audience, the route of technical (device)
alerts, the grouping window, self-clearing rules, site time zones and late data; validated at
load. The alert service decides with it (services/alerts/escalation.py, paging.py); it lives
here, under the alert service, because the care team document holds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.types import AlertCandidate, Severity

__all__ = [
    "DEVICE_PAGE",
    "AlertsConfig",
    "DeviceRoute",
    "EscalationConfig",
    "LateData",
    "PolicyModel",
    "SeverityPolicy",
    "Step",
    "Target",
    "UnitPolicy",
    "policy_for",
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
    "community_on_call",
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
# An outbreak case file not reported in time: the infection-control lead, then up to the
# charge nurse and physician an hour later (services/alerts/outbreak_deadlines.py).
OUTBREAK_OVERDUE = SeverityPolicy(
    steps=(
        Step(who=("infection_control",), timeout_s=3600, renotify_every_s=1800),
        Step(who=("charge_nurse", "physician"), renotify_every_s=3600),
    )
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
        default_factory=lambda: {
            "infection_control": OUTBREAK,
            "outbreak_overdue": OUTBREAK_OVERDUE,
        }
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


class LateData(PolicyModel):
    """Data that reaches the detector long after it was measured (a device's backlog after a
    Wi-Fi drop, a replay): its conditions are recorded, but one that ended before its data
    arrived is history, not a page."""

    # A candidate is late when the data behind it reached the detector more than this long
    # after its own time (its `ts`).
    after_s: float = Field(default=300.0, gt=0)
    # A late condition is held this long (service time) before it pages: its end, if it
    # came in the same backlog, arrives meanwhile and files it as history instead.
    hold_s: float = Field(default=60.0, ge=0)

    def is_late(self, candidate: AlertCandidate) -> bool:
        arrived = candidate.arrived_at
        return arrived is not None and (arrived - candidate.ts).total_seconds() > self.after_s


class AlertsConfig(PolicyModel):
    # Candidates about one subject within this many seconds (data time) of an incident's first
    # alert join it: a fall, the heart-rate spike and the bed exit it causes page once.
    grouping_window_s: float = Field(default=120.0, ge=0)
    # Rule id prefixes whose `clear` resolves the alert by itself ("self_cleared"): device
    # conditions (offline, battery, wear-off) are over when the device says so. Clinical alerts
    # stay until staff resolve them; a clear only marks `condition_cleared`.
    self_clearing_rules: tuple[str, ...] = ("device.",)
    # Zone for unit-level subjects (residents carry their own in the roster).
    default_timezone: str = "Asia/Shanghai"
    site_timezones: dict[str, str] = Field(default_factory=dict)
    # An outbreak case file neither reported nor ruled out this long after it opened pages the
    # "outbreak_overdue" audience. 24 h is a product default, not a cited deadline (public
    # health emergencies must be reported within 2 h: docs/detection.md, "Outbreaks").
    outbreak_report_within_s: float = Field(default=24 * 3600.0, gt=0)
    escalation: EscalationConfig = EscalationConfig()
    # Device alerts: a technical queue and the caregiver on shift, never a physician.
    devices: DeviceRoute = DeviceRoute()
    late: LateData = LateData()

    @model_validator(mode="after")
    def _zones(self) -> Self:
        for zone in (self.default_timezone, *self.site_timezones.values()):
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r}") from None
        if any(not prefix for prefix in self.self_clearing_rules):
            raise ValueError("an empty self-clearing prefix would match every rule")
        return self

    def timezone_of(self, site: str) -> str:
        return self.site_timezones.get(site, self.default_timezone)

    def self_clearing(self, rule_id: str) -> bool:
        return rule_id.startswith(self.self_clearing_rules)
