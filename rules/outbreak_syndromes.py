"""Syndromic clusters per unit: respiratory (influenza-like) and gastrointestinal illness.

Each syndrome has a case definition (sets of signs, any one set shown in full within a few
days makes a person a case), a count and a window: that many cases of one unit with onsets
inside the window raise one "outbreak.<syndrome>" alert for the unit, for infection control.
Cases are residents or staff (a case's kind). Fever clusters are rules/outbreak.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from pydantic import Field, model_validator

from rules.config import RuleConfig
from rules.types import Action, AlertCandidate, Severity, unit_subject
from rules.vocabulary import PersonKind, Sign

__all__ = [
    "SYNDROMES",
    "Case",
    "ClusterState",
    "Person",
    "SignReport",
    "Syndrome",
    "SyndromeConfig",
    "SyndromesConfig",
    "rule_id",
    "syndrome_step",
]

Syndrome = Literal["respiratory", "gastrointestinal"]
SYNDROMES: Final[tuple[Syndrome, ...]] = get_args(Syndrome)
Person = tuple[PersonKind, int]  # ("resident", resident id) or ("staff", staff id)


def rule_id(syndrome: str) -> str:
    return f"outbreak.{syndrome}_cluster"


class SyndromeConfig(RuleConfig):
    # A person is a case when every sign of one of these sets was seen within `signs_window_s`.
    case_definition: tuple[frozenset[Sign], ...] = Field(min_length=1)
    min_cases: int = Field(ge=2)
    window_s: float = Field(gt=0)  # onsets of the cases counted together
    signs_window_s: float = Field(default=72 * 3600.0, gt=0)
    enabled: bool = True
    severity: Severity = "high"
    audience: str = Field(default="infection_control", min_length=1)

    @model_validator(mode="after")
    def _no_empty_set(self) -> SyndromeConfig:
        if not all(self.case_definition):
            raise ValueError("every set of signs in case_definition needs at least one sign")
        return self

    @property
    def signs(self) -> frozenset[str]:
        """Every sign the definition mentions: the only ones this syndrome's state keeps."""
        return frozenset().union(*self.case_definition)


class SyndromesConfig(RuleConfig):
    # Influenza-like illness: fever (>= 38 °C) with cough or sore throat, the national ILI
    # definition; >= 10 cases in a week in one institution is an ILI outbreak to report
    # (全国流感监测方案, NHC 2017). Counted per unit here (docs/detection.md, "Outbreaks").
    respiratory: SyndromeConfig = SyndromeConfig(
        case_definition=(frozenset({"fever", "cough"}), frozenset({"fever", "sore_throat"})),
        min_cases=10,
        window_s=7 * 24 * 3600.0,
    )
    # Acute gastroenteritis (vomiting or diarrhoea); >= 3 cases within 3 days in one setting is
    # the cluster (聚集性疫情) of the norovirus guideline (2015), >= 5 its outbreak: the lower.
    gastrointestinal: SyndromeConfig = SyndromeConfig(
        case_definition=(frozenset({"vomiting"}), frozenset({"diarrhoea"})),
        min_cases=3,
        window_s=72 * 3600.0,
        signs_window_s=24 * 3600.0,
    )

    def of(self, syndrome: Syndrome) -> SyndromeConfig:
        config: SyndromeConfig = getattr(self, syndrome)
        return config


@dataclass(frozen=True, slots=True)
class SignReport:
    """Signs a person showed at `ts` (a round's symptoms, a fever onset), with the
    temperature when one was measured."""

    kind: PersonKind
    person_id: int
    ts: datetime
    signs: frozenset[str]
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One line of the line list: onset (the first sign of the definition met), the signs
    seen (the definition's, and any other reported with or after them), the highest
    temperature reported; the unit it was counted in when a site's rule lists it (a unit's
    own cases are of its unit)."""

    onset: datetime
    signs: frozenset[str]
    temperature: float | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterState:
    """Per unit and syndrome: when each person last showed each sign, the cases inside the
    window, and what the open alert (if any) last reported."""

    key: str | None = None  # "<unit subject>/<syndrome>", set on first use
    seen: Mapping[Person, Mapping[str, datetime]] = field(default_factory=dict)
    temperatures: Mapping[Person, float] = field(default_factory=dict)
    cases: Mapping[Person, Case] = field(default_factory=dict)
    open: bool = False
    reported: frozenset[Person] = frozenset()


def syndrome_step(
    state: ClusterState,
    report: SignReport | None,
    *,
    syndrome: Syndrome,
    site_id: str,
    unit_id: str,
    now: datetime,
    config: SyndromeConfig,
) -> tuple[ClusterState, list[AlertCandidate]]:
    """Feed a person's signs (a person of this unit), or None to let time pass."""
    subject = unit_subject(site_id, unit_id)
    key = f"{subject}/{syndrome}"
    if state.key is not None and state.key != key:
        raise ValueError(f"cluster state of {state.key} fed for {key}")
    horizon = now - timedelta(seconds=config.window_s)
    # A sign older than this can no longer help make a case whose onset is inside the window.
    keep_from = horizon - timedelta(seconds=config.signs_window_s)
    seen = {
        person: kept
        for person, signs in state.seen.items()
        if (kept := {s: t for s, t in signs.items() if t >= keep_from})
    }
    temperatures = {p: t for p, t in state.temperatures.items() if p in seen}
    cases = {p: c for p, c in state.cases.items() if c.onset >= horizon}
    if report is not None and config.enabled:
        person: Person = (report.kind, report.person_id)
        signs = dict(seen.get(person, {}))
        for sign in report.signs & config.signs:
            if report.ts >= keep_from and (sign not in signs or signs[sign] < report.ts):
                signs[sign] = report.ts
        if signs:
            seen[person] = signs
            if report.temperature is not None:
                temperatures[person] = max(report.temperature, temperatures.get(person, -1e9))
            case = _case(signs, temperatures.get(person), cases.get(person), config)
            if case is not None and case.onset >= horizon:
                # The line list shows every sign reported with or after the case's, e.g. a
                # rash charted with the diarrhoea; only the definition's count towards it.
                cases[person] = Case(case.onset, case.signs | report.signs, case.temperature)

    out: list[AlertCandidate] = []
    cluster = len(cases) >= config.min_cases
    reported = state.reported.intersection(cases)
    if cluster and (not state.open or not cases.keys() <= reported):
        action: Action = "update" if state.open else "raise"
        newest = max(c.onset for c in cases.values())
        out.append(_candidate(action, syndrome, subject, unit_id, cases, newest, config))
        reported = frozenset(cases)
    elif state.open and not cluster:
        out.append(_candidate("clear", syndrome, subject, unit_id, cases, now, config))
        reported = frozenset()
    return ClusterState(key, seen, temperatures, cases, cluster, reported), out


def _case(
    signs: Mapping[str, datetime],
    temperature: float | None,
    known: Case | None,
    config: SyndromeConfig,
) -> Case | None:
    """The person's case if the definition is met (a known case keeps its onset and gains
    the signs seen since), else None."""
    if known is not None:
        return Case(known.onset, known.signs | frozenset(signs), temperature)
    span = timedelta(seconds=config.signs_window_s)
    onsets = []
    for wanted in config.case_definition:
        times = [signs[s] for s in wanted if s in signs]
        if len(times) == len(wanted) and max(times) - min(times) <= span:
            onsets.append(min(times))
    if not onsets:
        return None
    return Case(min(onsets), frozenset(signs), temperature)


def _candidate(
    action: Action,
    syndrome: Syndrome,
    subject: str,
    unit_id: str,
    cases: Mapping[Person, Case],
    ts: datetime,
    config: SyndromeConfig,
) -> AlertCandidate:
    # Counts only, never who: this goes out by page (the case file's line list says who).
    hours = config.window_s / 3600
    values: dict[str, float | str] = {
        "syndrome": syndrome,
        "count": len(cases),
        "residents": sum(1 for kind, _ in cases if kind == "resident"),
        "staff": sum(1 for kind, _ in cases if kind == "staff"),
        "window_h": hours,
    }
    if cases:
        values["first_onset"] = min(c.onset for c in cases.values()).isoformat()
        values["last_onset"] = max(c.onset for c in cases.values()).isoformat()
    name = {"respiratory": "Respiratory illness", "gastrointestinal": "Gastrointestinal illness"}
    if action == "clear":
        title = (
            f"{name[syndrome]} cluster in unit {unit_id} over:"
            f" fewer than {config.min_cases} cases in {hours:g} h"
        )
    else:
        title = f"{name[syndrome]} cluster: {len(cases)} cases in unit {unit_id} within {hours:g} h"
    rid = rule_id(syndrome)
    return AlertCandidate(
        rule_id=rid,
        action=action,
        subject=subject,
        dedupe_key=f"{rid}:{subject}",
        severity=config.severity,
        ts=ts,
        title=title,
        values=values,
        audience=config.audience,
    )
