"""Clusters per site: the cases of every unit of one site counted together, so a spread over
several units that no single unit's rule catches raises one "outbreak.site_<syndrome>_cluster"
alert for the site (subject "site:<site>"), for infection control.

The cases are those the unit rules found (fever onsets, syndromic cases), each person once
with the unit they were counted in. De-duplication with the unit rules: while every case of
the site is already a case of an open unit cluster of the same syndrome, the unit's case file
covers them and the site rule stays quiet; it raises once the site's cases go beyond what the
open unit clusters hold (docs/detection.md, "Outbreaks").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from pydantic import Field

from rules.config import RuleConfig
from rules.outbreak import RULE_ID as FEVER_CLUSTER
from rules.outbreak import OutbreakState
from rules.outbreak_syndromes import SYNDROMES, Case, ClusterState, Person, Syndrome, rule_id
from rules.types import Action, AlertCandidate, Severity

__all__ = [
    "SITE_SYNDROMES",
    "SiteClusterConfig",
    "SiteClusterState",
    "SiteClustersConfig",
    "SiteSyndrome",
    "UnitCases",
    "cases_behind",
    "site_index",
    "site_rule_id",
    "site_step",
    "site_subject",
    "sites_step",
]

SiteSyndrome = Literal["fever", "respiratory", "gastrointestinal"]
SITE_SYNDROMES: Final[tuple[SiteSyndrome, ...]] = get_args(SiteSyndrome)


@dataclass(frozen=True, slots=True)
class UnitCases:
    """What one unit's rule of a syndrome holds now: its cases, and whether its cluster is
    open (its case file then lists them)."""

    cases: Mapping[Person, Case]
    open: bool


def site_rule_id(syndrome: str) -> str:
    return f"outbreak.site_{syndrome}_cluster"


def site_subject(site_id: str) -> str:
    return f"site:{site_id}"


class SiteClusterConfig(RuleConfig):
    min_cases: int = Field(ge=2)
    window_s: float = Field(gt=0)  # onsets of the cases counted together
    enabled: bool = True
    severity: Severity = "high"
    audience: str = Field(default="infection_control", min_length=1)


class SiteClustersConfig(RuleConfig):
    # The Chinese thresholds are per institution (one school, nursery, care home...): the
    # site. Influenza-like: >= 10 cases within a week (全国流感监测方案, NHC 2017).
    respiratory: SiteClusterConfig = SiteClusterConfig(min_cases=10, window_s=7 * 24 * 3600.0)
    # Acute gastroenteritis: >= 3 cases within 3 days is a cluster (聚集性疫情) of the
    # norovirus guideline (Chinese CDC, 2015).
    gastrointestinal: SiteClusterConfig = SiteClusterConfig(min_cases=3, window_s=72 * 3600.0)
    # No Chinese threshold for fever alone was found: the unit rule's numbers, site-wide.
    fever: SiteClusterConfig = SiteClusterConfig(min_cases=3, window_s=72 * 3600.0)

    def of(self, syndrome: SiteSyndrome) -> SiteClusterConfig:
        config: SiteClusterConfig = getattr(self, syndrome)
        return config


@dataclass(frozen=True, slots=True)
class SiteClusterState:
    """Per site and syndrome: the cases inside the window (each with its unit), and what the
    open alert (if any) last reported."""

    key: str | None = None  # "<site subject>/<syndrome>", set on first use
    cases: Mapping[Person, Case] = field(default_factory=dict)
    open: bool = False
    reported: frozenset[Person] = frozenset()


def site_step(
    state: SiteClusterState,
    units: Mapping[str, UnitCases],
    *,
    syndrome: SiteSyndrome,
    site_id: str,
    now: datetime,
    config: SiteClusterConfig,
) -> tuple[SiteClusterState, list[AlertCandidate]]:
    """Take in the cases the site's unit rules hold now (by unit id); with none, time passes."""
    subject = site_subject(site_id)
    key = f"{subject}/{syndrome}"
    if state.key is not None and state.key != key:
        raise ValueError(f"site cluster state of {state.key} fed for {key}")
    horizon = now - timedelta(seconds=config.window_s)
    cases = {p: c for p, c in state.cases.items() if c.onset >= horizon}
    covered: set[Person] = set()
    if config.enabled:
        for unit_id, held in sorted(units.items()):
            if held.open:
                covered.update(held.cases)
            for person, case in held.cases.items():
                known = cases.get(person)
                if case.onset < horizon or (known is not None and known.onset < case.onset):
                    continue  # a person counts once: at their first onset, in its unit
                cases[person] = replace(case, unit=case.unit or unit_id)

    out: list[AlertCandidate] = []
    cluster = len(cases) >= config.min_cases
    reported = state.reported.intersection(cases)
    # Quiet while the open unit clusters hold every case: their files list them already.
    beyond = not cases.keys() <= covered
    if cluster and not state.open and beyond:
        out.append(_candidate("raise", syndrome, site_id, cases, config))
        reported = frozenset(cases)
    elif cluster and state.open and not cases.keys() <= reported:
        out.append(_candidate("update", syndrome, site_id, cases, config))
        reported = frozenset(cases)
    elif state.open and not cluster:
        out.append(_candidate("clear", syndrome, site_id, cases, config, now))
        reported = frozenset()
    is_open = (state.open and cluster) or bool(out and out[0].action == "raise")
    return SiteClusterState(key, cases, is_open, reported), out


# What each site's unit rules hold, by site, then syndrome, then unit.
SiteIndex = Mapping[str, Mapping[SiteSyndrome, Mapping[str, UnitCases]]]


def site_index(
    fevers: Mapping[tuple[str, str], OutbreakState],
    clusters: Mapping[tuple[str, str, Syndrome], ClusterState],
) -> SiteIndex:
    """The engine's unit states (fever clusters by (site, unit), syndromic ones by (site, unit,
    syndrome)) by site, in one pass: a tick steps every site from it."""
    fever = frozenset({"fever"})
    index: dict[str, dict[SiteSyndrome, dict[str, UnitCases]]] = {}
    for (site, unit_id), state in fevers.items():
        cases: dict[Person, Case] = {
            ("resident", rid): Case(t, fever) for rid, t in state.onsets.items()
        }
        index.setdefault(site, {}).setdefault("fever", {})[unit_id] = UnitCases(cases, state.open)
    for (site, unit_id, of), cluster in clusters.items():
        held = UnitCases(cluster.cases, cluster.open)
        index.setdefault(site, {}).setdefault(of, {})[unit_id] = held
    return index


def sites_step(
    sites: Mapping[tuple[str, SiteSyndrome], SiteClusterState],
    site_id: str,
    index: SiteIndex,
    *,
    now: datetime,
    config: SiteClustersConfig,
) -> tuple[dict[tuple[str, SiteSyndrome], SiteClusterState], list[AlertCandidate]]:
    """Step every syndrome's rule of one site from what its units hold (`site_index`); the
    site's new states."""
    held = index.get(site_id, {})
    states: dict[tuple[str, SiteSyndrome], SiteClusterState] = {}
    out: list[AlertCandidate] = []
    for syndrome in SITE_SYNDROMES:
        units = held.get(syndrome, {})
        known = sites.get((site_id, syndrome))
        if known is None and not any(u.cases for u in units.values()):
            continue  # nothing to count, nothing open
        states[(site_id, syndrome)], found = site_step(
            known or SiteClusterState(),
            units,
            syndrome=syndrome,
            site_id=site_id,
            now=now,
            config=config.of(syndrome),
        )
        out += found
    return states, out


def cases_behind(
    candidate: AlertCandidate,
    fevers: Mapping[tuple[str, str], OutbreakState],
    clusters: Mapping[tuple[str, str, Syndrome], ClusterState],
    sites: Mapping[tuple[str, SiteSyndrome], SiteClusterState],
) -> tuple[str, Mapping[Person, Case]] | None:
    """The syndrome and the cases behind an outbreak alert of a unit or a site (its case
    file's line list), or None if it is not one."""
    for syndrome in SITE_SYNDROMES:
        if candidate.rule_id == site_rule_id(syndrome):
            key = (candidate.subject.removeprefix("site:"), syndrome)
            return syndrome, sites.get(key, SiteClusterState()).cases
    site_id, _, unit_id = candidate.subject.removeprefix("unit:").partition("/")
    if candidate.rule_id == FEVER_CLUSTER:
        state = fevers.get((site_id, unit_id), OutbreakState())
        fever = frozenset({"fever"})
        return "fever", {("resident", rid): Case(t, fever) for rid, t in state.onsets.items()}
    for syndrome in SYNDROMES:
        if candidate.rule_id == rule_id(syndrome):
            return syndrome, clusters.get((site_id, unit_id, syndrome), ClusterState()).cases
    return None


def _candidate(
    action: Action,
    syndrome: SiteSyndrome,
    site_id: str,
    cases: Mapping[Person, Case],
    config: SiteClusterConfig,
    ts: datetime | None = None,
) -> AlertCandidate:
    # Counts only, never who: this goes out by page (the case file's line list says who).
    hours = config.window_s / 3600
    units = sorted({c.unit for c in cases.values() if c.unit})
    values: dict[str, float | str] = {
        "syndrome": syndrome,
        "count": len(cases),
        "residents": sum(1 for kind, _ in cases if kind == "resident"),
        "staff": sum(1 for kind, _ in cases if kind == "staff"),
        "units": ",".join(units),
        "window_h": hours,
    }
    if cases:
        values["first_onset"] = min(c.onset for c in cases.values()).isoformat()
        values["last_onset"] = max(c.onset for c in cases.values()).isoformat()
    if action == "clear":
        title = f"{syndrome} cluster in site {site_id} over: fewer than {config.min_cases} cases"
    else:
        title = (
            f"{syndrome} cluster: {len(cases)} cases in {len(units)} units of site {site_id}"
            f" within {hours:g} h"
        )
    rid = site_rule_id(syndrome)
    subject = site_subject(site_id)
    return AlertCandidate(
        rule_id=rid,
        action=action,
        subject=subject,
        dedupe_key=f"{rid}:{subject}",
        severity=config.severity,
        ts=ts or max(c.onset for c in cases.values()),
        title=title,
        values=values,
        audience=config.audience,
    )
