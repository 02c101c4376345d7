"""A small ward for the alert tests: a roster with day/night caregivers, a charge nurse and a
physician on call at site-a, a family-bed resident at home, outbreak contacts; a fake clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from rules.types import Action, AlertCandidate, Severity
from services.alerts.effects import Effect, Page
from services.alerts.lifecycle import apply_candidate, tick
from services.alerts.model import AlertBook, Incident
from services.careteam.policy import (
    AlertsConfig,
    EscalationConfig,
    SeverityPolicy,
    Step,
    UnitPolicy,
)
from services.careteam.roster import ResidentContacts, Roster, Shift, Staff
from services.careteam.team import load_care_team

TZ = ZoneInfo("Asia/Shanghai")
# Monday 2026-03-09, 10:00 local: the day shift is on.
T0 = datetime(2026, 3, 9, 10, 0, tzinfo=TZ)
ALL_DAY = (time(0), time(0))

STAFF = (
    Staff("cg-day", "Li Day", "caregiver", ("mailto://day@example.org", "ntfy://day")),
    Staff("cg-night", "Wang Night", "caregiver", ("ntfy://night",)),
    Staff("cg-other", "Zhao Unit2", "caregiver", ("ntfy://other",)),
    Staff("cn", "Chen Charge", "charge_nurse", ("ntfy://cn",)),
    Staff("doc", "Dr Sun", "physician", ("ntfy://doc",)),
    Staff("fam", "Daughter Liu", "family", ("ntfy://fam",)),
    Staff("fd", "Dr Zhou (family)", "family_doctor", ("ntfy://fd",)),
    Staff("ic", "IC Officer", "infection_control", ("mailto://ic@example.org",)),
    Staff("cdc", "District CDC", "disease_control", ("json://cdc.example.org/hook",)),
)
SHIFTS = (
    Shift("cg-day", "site-a", time(7), time(22), units=frozenset({"unit-1"})),
    Shift("cg-night", "site-a", time(22), time(7), units=frozenset({"unit-1"})),
    Shift("cg-other", "site-a", *ALL_DAY, units=frozenset({"unit-2"})),
    Shift("cn", "site-a", *ALL_DAY),
    Shift("doc", "site-a", *ALL_DAY),
    Shift("ic", "site-a", *ALL_DAY),
    Shift("cdc", "site-a", *ALL_DAY),
)
RESIDENTS = (
    ResidentContacts(1, "site-a", "unit-1"),
    ResidentContacts(2, "site-a", "unit-1"),
    ResidentContacts(7, "home", "bed-7", family=("fam",), family_doctors=("fd",)),
)
ROSTER = Roster.of(STAFF, SHIFTS, RESIDENTS)

HOME = SeverityPolicy(
    steps=(
        Step(who=("resident_family",), timeout_s=120, renotify_every_s=60),
        Step(who=("family_doctor",), renotify_every_s=300),
    )
)
HOME_UNIT = UnitPolicy(low=HOME, medium=HOME, high=HOME, critical=HOME)
CONFIG = AlertsConfig(escalation=EscalationConfig(sites={"home": HOME_UNIT}))


def alerts_section(section: Mapping[str, object]) -> AlertsConfig:
    """A care team document's `alerts` section, validated as `carewatch team load` does."""
    return load_care_team({"alerts": section}).alerts


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def cand(
    rule_id: str = "fall.device",
    action: Action = "raise",
    *,
    resident: int = 1,
    severity: Severity = "high",
    ts: float = 0.0,
    subject: str | None = None,
    audience: str | None = None,
    title: str | None = None,
    **values: float | str,
) -> AlertCandidate:
    subj = subject or f"resident:{resident}"
    return AlertCandidate(
        rule_id=rule_id,
        action=action,
        subject=subj,
        dedupe_key=f"{rule_id}:{subj}",
        severity=severity,
        ts=at(ts),
        title=title or rule_id,
        values=dict(values),
        audience=audience,
    )


class Ward:
    """The alert book driven with a fake clock: every effect is kept in `effects`."""

    def __init__(
        self, config: AlertsConfig = CONFIG, roster: Roster = ROSTER, start: datetime = T0
    ) -> None:
        self.book = AlertBook()
        self.config = config
        self.roster = roster
        self.start = start
        self.now = start
        self.effects: list[Effect] = []

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def feed(self, candidate: AlertCandidate, now: float | None = None) -> list[Effect]:
        if now is not None:
            self.now = self.at(now)
        self.book, out = apply_candidate(
            self.book, candidate, now=self.now, config=self.config, roster=self.roster
        )
        self.effects += out
        return out

    def tick(self, now: float) -> list[Effect]:
        self.now = self.at(now)
        self.book, out = tick(self.book, now=self.now, config=self.config, roster=self.roster)
        self.effects += out
        return out

    def run(self, until: float, every: float = 1.0) -> list[tuple[float, Page]]:
        """Tick every `every` seconds up to `until`; the pages with their offset."""
        pages: list[tuple[float, Page]] = []
        t = (self.now - self.start).total_seconds()
        while t + every <= until + 1e-9:
            t += every
            pages += [(t, e) for e in self.tick(t) if isinstance(e, Page)]
        return pages

    def incident(self, incident_id: int = 1) -> Incident:
        return self.book.incidents[incident_id]


def pages(effects: list[Effect]) -> list[Page]:
    return [e for e in effects if isinstance(e, Page)]


def who(page: Page) -> tuple[str, ...]:
    return tuple(s.id for s in page.recipients)
