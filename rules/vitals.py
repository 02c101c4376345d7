"""Vital-sign threshold rules (hr, spo2, rr, temp, sbp, dbp) with persistence and hysteresis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from itertools import pairwise
from typing import ClassVar, Final, Self

from pydantic import (
    Field,
    model_validator,
)

from rules.config import RuleConfig
from rules.types import (
    SEVERITY_ORDER,
    Action,
    AlertCandidate,
    ResidentProfile,
    Severity,
    Source,
    Vital,
)
from rules.vocabulary import METRICS as VOCABULARY
from rules.vocabulary import RANGES, UNITS, VITAL_SIGNS

# --- configuration -------------------------------------------------------------------------

METRICS: Final = VITAL_SIGNS
_LABELS: Final[Mapping[str, str]] = {name: VOCABULARY[name].label for name in METRICS}


class Tier(RuleConfig):
    """A more extreme threshold that raises an open alert's severity (an "update")."""

    threshold: float
    severity: Severity


class Limit(RuleConfig):
    """One side of a metric. Breached when value < threshold (low) or > threshold (high)."""

    threshold: float
    severity: Severity = "high"
    # Continuous streams must breach for this long without a break before it counts. Spot
    # readings (`VitalsConfig.spot_sources`) count at once.
    persistence_s: float = Field(default=0.0, ge=0, le=86_400)
    # Hysteresis: clears only at threshold + margin (low) / threshold - margin (high) ...
    clear_margin: float = Field(default=0.0, ge=0)
    # ... held for this long (spot readings clear at once).
    clear_after_s: float = Field(default=0.0, ge=0, le=86_400)
    tiers: tuple[Tier, ...] = ()


class MetricLimits(RuleConfig):
    """The limits of one metric; subclasses name the metric and its plausible range."""

    # What a body can report (rules.vocabulary, which ingest enforces: DESIGN.md,
    # out_of_range): a limit outside it can never fire or always fires, which is a typo
    # (SpO2 0.9 for 90 %), not a clinical choice.
    plausible: ClassVar[tuple[float, float]] = (float("-inf"), float("inf"))
    unit: ClassVar[str] = ""

    low: Limit | None = None
    high: Limit | None = None
    # Longest silence between readings that still counts as "continuous" (default: the
    # config's max_gap_s). Periodic devices (cuffs, thermometers) need a longer one.
    max_gap_s: float | None = Field(default=None, gt=0)
    # A spot reading (manual, fhir) older than this (its own `ts` to `now`) is history: it
    # still counts and may clear, but it cannot raise or escalate (a round's SBP of 85 entered
    # 9 h later is not an emergency now). Device backlogs are judged by the alert service's
    # late-data hold instead. None: the subclass's `default_max_age_s`.
    max_age_s: float | None = Field(default=None, gt=0, le=7 * 86_400)
    # NEWS2's own freshness defaults (rules/news2.py), so a reading too old to score is too
    # old to page on: streams 10 min, round-charted metrics 8 h.
    default_max_age_s: ClassVar[float] = 600.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        lo, hi = self.plausible
        for side, limit in (("low", self.low), ("high", self.high)):
            if limit is None:
                continue
            thresholds = [limit.threshold, *(t.threshold for t in limit.tiers)]
            for threshold in thresholds:
                if not lo <= threshold <= hi:
                    raise ValueError(
                        f"{side} threshold {threshold:g} is outside the plausible range "
                        f"{lo:g}-{hi:g} {self.unit}"
                    )
            ranks = [
                SEVERITY_ORDER[limit.severity],
                *(SEVERITY_ORDER[t.severity] for t in limit.tiers),
            ]
            more_extreme = (
                all(a > b for a, b in pairwise(thresholds))
                if side == "low"
                else all(a < b for a, b in pairwise(thresholds))
            )
            if not more_extreme:
                raise ValueError(f"{side}.tiers must each be more extreme than the one before")
            if not all(a < b for a, b in pairwise(ranks)):
                raise ValueError(f"{side}.tiers must each be more severe than the one before")
        if self.low is not None and self.high is not None:
            if self.low.threshold + self.low.clear_margin >= self.high.threshold:
                raise ValueError("low.threshold + low.clear_margin must be below high.threshold")
            if self.high.threshold - self.high.clear_margin <= self.low.threshold:
                raise ValueError("high.threshold - high.clear_margin must be above low.threshold")
        return self


class HrLimits(MetricLimits):
    plausible = RANGES["hr"]
    unit = UNITS["hr"]


class Spo2Limits(MetricLimits):
    plausible = RANGES["spo2"]
    unit = UNITS["spo2"]


class RrLimits(MetricLimits):
    plausible = RANGES["rr"]
    unit = UNITS["rr"]


class TempLimits(MetricLimits):
    plausible = RANGES["temp"]
    unit = UNITS["temp"]
    default_max_age_s = 8 * 3600.0


class SbpLimits(MetricLimits):
    plausible = RANGES["sbp"]
    unit = UNITS["sbp"]
    default_max_age_s = 8 * 3600.0


class DbpLimits(MetricLimits):
    plausible = RANGES["dbp"]
    unit = UNITS["dbp"]
    default_max_age_s = 8 * 3600.0


# Defaults: older adults in long-term care, single-parameter "red" alarms. Limits follow the
# NEWS2 chart (Royal College of Physicians 2017) where a single parameter scores 3, which calls
# for an urgent clinical response; NEWS2 itself (rules/news2.py) covers the milder bands.
#
# Persistence: SpO2 15 s — adding a 15 s delay to a 90 % low limit cut low-SpO2 alarms by
# ~60 % (Rheineck-Leyssius & Kalkman, reported in Welch J, Biomed Instrum Technol 2011;
# 45(s1):46-52). HR and RR 60 s — in a medical ICU the median alarm lasted 17 s and a 19 s
# delay would have removed 67 % of ignored/ineffective alarms (Görges M et al., Anesth Analg
# 2009;108:1546-52); wrist PPG heart rate and RR estimates are averaged over 30-60 s windows
# and are motion-prone, so one full minute (a project choice, not a trial result). Wearable
# temperature and cuffless BP 5 min (project choice: transients from bathing, removal, arm
# position); a manual or FHIR spot reading counts at once.
DEFAULT_HR = HrLimits(
    # Bradycardia: NEWS2 scores <= 40 as 3; 41-50 (score 1) is common on beta-blockers in
    # this age group and sleeping rates sit there: on its own it is NEWS2's to weigh, not a
    # page (a 45 bpm limit paged residents asleep at 44 in the tune scenarios).
    low=Limit(
        threshold=41,  # strictly below: 40 and less
        severity="high",
        persistence_s=60,
        clear_margin=5,
        clear_after_s=60,
        tiers=(Tier(threshold=35, severity="critical"),),
    ),
    # NEWS2: 111-130 scores 2, >= 131 scores 3.
    high=Limit(
        threshold=120,
        severity="medium",
        persistence_s=60,
        clear_margin=10,
        clear_after_s=60,
        tiers=(Tier(threshold=130, severity="high"),),
    ),
)
# BTS oxygen guideline (O'Driscoll BR et al., Thorax 2017;72 Suppl 1:ii1-ii90): target 94-98 %,
# 88-92 % for those at risk of hypercapnic respiratory failure (NEWS2 SpO2 scale 2).
DEFAULT_SPO2 = Spo2Limits(
    low=Limit(
        threshold=90,
        severity="high",
        persistence_s=15,
        clear_margin=2,  # back to >= 92 % before it clears
        clear_after_s=30,
        tiers=(Tier(threshold=85, severity="critical"),),
    ),
)
DEFAULT_SPO2_SCALE2 = Spo2Limits(
    low=Limit(
        threshold=85,  # NEWS2 scale 2: 84-85 scores 2, <= 83 scores 3
        severity="high",
        persistence_s=15,
        clear_margin=2,
        clear_after_s=30,
        tiers=(Tier(threshold=80, severity="critical"),),
    ),
)
# NEWS2 scores <= 8 and >= 25 as 3; strict < 8 / > 25 here leaves the edge values to NEWS2.
DEFAULT_RR = RrLimits(
    low=Limit(threshold=8, severity="high", persistence_s=60, clear_margin=2, clear_after_s=60),
    high=Limit(threshold=25, severity="high", persistence_s=60, clear_margin=3, clear_after_s=60),
)
# Hypothermia is core temperature < 35 °C (Brown DJA et al., N Engl J Med 2012;367:1930-8).
# Fever (>= 37.8 and friends) is the baseline module's "fever" rule.
DEFAULT_TEMP = TempLimits(
    low=Limit(
        threshold=35.0, severity="high", persistence_s=300, clear_margin=0.5, clear_after_s=600
    ),
    max_gap_s=1800,
)
# NEWS2: SBP <= 90 scores 3, >= 220 scores 3. SBP > 180 and/or DBP > 120 is the hypertensive
# crisis range of the ACC/AHA 2017 guideline (Whelton PK et al., Hypertension 2018;71:e13-e115).
DEFAULT_SBP = SbpLimits(
    low=Limit(threshold=90, severity="high", persistence_s=300, clear_margin=10, clear_after_s=600),
    high=Limit(
        threshold=180,
        severity="medium",
        persistence_s=300,
        clear_margin=10,
        clear_after_s=600,
        tiers=(Tier(threshold=220, severity="high"),),
    ),
    max_gap_s=1800,
)
DEFAULT_DBP = DbpLimits(
    high=Limit(
        threshold=120, severity="medium", persistence_s=300, clear_margin=10, clear_after_s=600
    ),
    max_gap_s=1800,
)


class VitalsConfig(RuleConfig):
    """Threshold rules for one resident (site defaults, then `with_overrides` per resident)."""

    hr: HrLimits = DEFAULT_HR
    spo2: Spo2Limits = DEFAULT_SPO2
    # Used instead of `spo2` for residents on NEWS2 SpO2 scale 2 (a clinician's setting for
    # confirmed hypercapnic respiratory failure; a "copd" condition alone does not switch it,
    # as RCP 2017 reserves scale 2): override this one to change their SpO2 limits.
    spo2_scale2: Spo2Limits = DEFAULT_SPO2_SCALE2
    rr: RrLimits = DEFAULT_RR
    temp: TempLimits = DEFAULT_TEMP
    sbp: SbpLimits = DEFAULT_SBP
    dbp: DbpLimits = DEFAULT_DBP
    # Wearables stream vitals every few seconds: two minutes of nothing while a condition is
    # pending means the evidence is stale, so persistence starts over. Devices that sample
    # less often need a longer gap (per metric, or per resident through overrides), or their
    # conditions never persist.
    max_gap_s: float = Field(default=120.0, gt=0)
    # Readings a person took or a clinical system recorded: one reading is an observation, so
    # it raises (and, once recovered, clears) at once.
    spot_sources: frozenset[Source] = frozenset({"manual", "fhir"})
    # A reading stamped further than this after `now` is ignored: a device clock running
    # ahead would otherwise make every later reading look out of order.
    max_clock_skew_s: float = Field(default=300.0, ge=0)

    @cached_property
    def plan(self) -> _Plan:
        """The configuration compiled for the per-reading path (built once per config)."""
        base = {m: getattr(self, m) for m in METRICS}
        return _Plan(
            scale1=_compile(base, self.max_gap_s),
            scale2=_compile({**base, "spo2": self.spo2_scale2}, self.max_gap_s),
            spot_sources=frozenset(self.spot_sources),
            max_skew=timedelta(seconds=self.max_clock_skew_s),
        )


# --- compiled plan (plain slotted objects: no pydantic on the per-reading path) --------------


@dataclass(frozen=True, slots=True)
class _LimitPlan:
    rule_id: str
    low: bool
    thresholds: tuple[float, ...]  # the limit, then its tiers
    severities: tuple[Severity, ...]
    titles: tuple[str, ...]
    persistence: timedelta
    clear_at: float
    clear_after: timedelta


@dataclass(frozen=True, slots=True)
class _MetricPlan:
    lo: float  # lo <= value <= hi breaches nothing
    hi: float
    max_gap: timedelta
    max_age: timedelta
    rule_ids: tuple[str, ...]
    limits: tuple[_LimitPlan, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    scale1: Mapping[str, _MetricPlan]
    scale2: Mapping[str, _MetricPlan]
    spot_sources: frozenset[str]
    max_skew: timedelta


def _compile(metrics: Mapping[str, MetricLimits], default_gap_s: float) -> dict[str, _MetricPlan]:
    out: dict[str, _MetricPlan] = {}
    for metric, limits in metrics.items():
        label, unit = _LABELS[metric], limits.unit
        plans: list[_LimitPlan] = []
        for side, limit in (("low", limits.low), ("high", limits.high)):
            if limit is None:
                continue
            low = side == "low"
            thresholds = (limit.threshold, *(t.threshold for t in limit.tiers))
            word = "below" if low else "above"
            plans.append(
                _LimitPlan(
                    rule_id=f"vital.{metric}.{side}",
                    low=low,
                    thresholds=thresholds,
                    severities=(limit.severity, *(t.severity for t in limit.tiers)),
                    titles=tuple(f"{label} {word} {t:g} {unit}" for t in thresholds),
                    persistence=timedelta(seconds=limit.persistence_s),
                    clear_at=limit.threshold + (limit.clear_margin if low else -limit.clear_margin),
                    clear_after=timedelta(seconds=limit.clear_after_s),
                )
            )
        if not plans:
            continue
        out[metric] = _MetricPlan(
            lo=limits.low.threshold if limits.low is not None else float("-inf"),
            hi=limits.high.threshold if limits.high is not None else float("inf"),
            max_gap=timedelta(seconds=limits.max_gap_s or default_gap_s),
            max_age=timedelta(seconds=limits.max_age_s or limits.default_max_age_s),
            rule_ids=tuple(p.rule_id for p in plans),
            limits=tuple(plans),
        )
    return out


# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VitalCondition:
    """One limit that is pending (level == -1: breached, not yet for long enough) or open
    (level >= 0: raised, at that tier's severity)."""

    # Per level (the limit, then each tier): start of the current unbroken run of readings
    # beyond it, or None when the latest reading is not beyond it.
    since: tuple[datetime | None, ...]
    last_ts: datetime  # the latest reading that touched this condition
    level: int
    value: float  # latest value
    worst: float  # most extreme value of the episode
    recovering_since: datetime | None = None  # open only: start of the unbroken recovery
    opened_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VitalsRuleState:
    """Per resident: the last reading time of each metric, and the pending/open conditions
    keyed by rule id. Nothing else is kept."""

    last_seen: Mapping[str, datetime]
    conditions: Mapping[str, VitalCondition]

    @classmethod
    def empty(cls) -> VitalsRuleState:
        return cls({}, {})


def uses_scale2(profile: ResidentProfile) -> bool:
    """Residents whose SpO2 limits come from `spo2_scale2`: NEWS2 scale 2 only (a diagnosis
    tag such as "copd" is not the clinician's decision that the resident retains CO2)."""
    return profile.news2_scale == 2


# --- the rule ------------------------------------------------------------------------------


def vitals_step(
    state: VitalsRuleState,
    vital: Vital,
    *,
    profile: ResidentProfile,
    now: datetime,
    config: VitalsConfig,
    suppressed: bool = False,
) -> tuple[VitalsRuleState, list[AlertCandidate]]:
    """Feed one reading. `suppressed` (device off the wrist or offline): nothing raises,
    pending conditions are dropped, open ones stay open and their recovery starts over."""
    plan = config.plan
    metric = vital.metric
    table = plan.scale2 if profile.news2_scale == 2 else plan.scale1
    mp = table.get(metric)
    if mp is None:
        return state, []
    ts = vital.ts
    seen = state.last_seen
    previous = seen.get(metric)
    # Out-of-order readings say nothing about "continuously since": ignore them.
    if (previous is not None and ts < previous) or ts - now > plan.max_skew:
        return state, []
    last_seen = {**seen, metric: ts}
    conditions = state.conditions
    if suppressed:
        return VitalsRuleState(last_seen, _suppress(conditions)), []
    value = vital.value
    if mp.lo <= value <= mp.hi and (not conditions or conditions.keys().isdisjoint(mp.rule_ids)):
        return VitalsRuleState(last_seen, conditions), []
    if value != value:  # NaN never reaches here from ingest; never let it decide anything
        return VitalsRuleState(last_seen, conditions), []

    spot = vital.source in plan.spot_sources
    # A spot reading's age runs from its own time: a round charted late is not news. A
    # device's backlog is evaluated as it comes; the alert service files what had already
    # ended before it arrived as history (its late-data hold), so a live one still pages.
    current = not spot or now - ts <= mp.max_age
    updated = dict(conditions)
    candidates: list[AlertCandidate] = []
    for lp in mp.limits:
        condition, candidate = _limit_step(
            lp,
            conditions.get(lp.rule_id),
            value,
            ts,
            spot,
            current,
            mp.max_gap,
            vital.source,
            profile,
        )
        if condition is None:
            updated.pop(lp.rule_id, None)
        else:
            updated[lp.rule_id] = condition
        if candidate is not None:
            candidates.append(candidate)
    return VitalsRuleState(last_seen, updated), candidates


def vitals_suppress(state: VitalsRuleState) -> VitalsRuleState:
    """What the engine calls when a device goes off the wrist or offline (no reading needed):
    pending conditions are dropped, open ones stay open with their recovery reset."""
    return VitalsRuleState(state.last_seen, _suppress(state.conditions))


def _suppress(conditions: Mapping[str, VitalCondition]) -> Mapping[str, VitalCondition]:
    if not conditions:
        return conditions
    return {
        rule_id: VitalCondition(
            since=(None,) * len(c.since),
            last_ts=c.last_ts,
            level=c.level,
            value=c.value,
            worst=c.worst,
            recovering_since=None,
            opened_at=c.opened_at,
        )
        for rule_id, c in conditions.items()
        if c.level >= 0
    }


def _limit_step(
    lp: _LimitPlan,
    cond: VitalCondition | None,
    value: float,
    ts: datetime,
    spot: bool,
    current: bool,
    max_gap: timedelta,
    source: str,
    profile: ResidentProfile,
) -> tuple[VitalCondition | None, AlertCandidate | None]:
    """`current`: the reading is young enough to raise or escalate (an old one still builds
    persistence, in reading time, and may clear)."""
    thresholds = lp.thresholds
    level = -1
    for threshold in thresholds:
        if (value < threshold) if lp.low else (value > threshold):
            level += 1
        else:
            break
    if cond is not None and len(cond.since) != len(thresholds):
        # The resident's configuration changed shape (tiers added or removed) mid-episode.
        top = min(cond.level, len(thresholds) - 1)
        cond = VitalCondition(
            (None,) * len(thresholds),
            cond.last_ts,
            top,
            cond.value,
            cond.worst,
            cond.recovering_since,
            cond.opened_at,
        )
    # A silence longer than max_gap breaks "continuously": evidence before it does not count.
    fresh = cond is None or ts - cond.last_ts > max_gap
    since: list[datetime | None] = []
    sustained = -1
    for k in range(len(thresholds)):
        if k > level:
            since.append(None)
            continue
        start = ts if fresh or cond is None or cond.since[k] is None else cond.since[k]
        since.append(start)
        if start is not None and (spot or ts - start >= lp.persistence):
            sustained = k
    if cond is None or (fresh and cond.level < 0):
        worst = value  # a new episode (an open one keeps its worst across gaps)
    else:
        worst = min(cond.worst, value) if lp.low else max(cond.worst, value)

    if cond is None or cond.level < 0:
        if level < 0:
            return None, None  # the run is broken before it counted: a blip, not an alert
        if sustained < 0 or not current:
            return VitalCondition(tuple(since), ts, -1, value, worst), None
        opened = VitalCondition(tuple(since), ts, sustained, value, worst, None, ts)
        first = since[0] if since[0] is not None else ts
        return opened, _candidate(
            lp,
            "raise",
            sustained,
            ts,
            profile,
            value=value,
            worst=worst,
            limit=thresholds[sustained],
            persisted_s=(ts - first).total_seconds(),
            source=source,
        )

    recovered = value >= lp.clear_at if lp.low else value <= lp.clear_at
    if recovered:
        start = ts if fresh or cond.recovering_since is None else cond.recovering_since
        if spot or ts - start >= lp.clear_after:
            opened_at = cond.opened_at if cond.opened_at is not None else ts
            return None, _candidate(
                lp,
                "clear",
                cond.level,
                ts,
                profile,
                value=value,
                worst=worst,
                limit=thresholds[0],
                open_s=(ts - opened_at).total_seconds(),
                source=source,
            )
        return VitalCondition(
            (None,) * len(thresholds), ts, cond.level, value, worst, start, cond.opened_at
        ), None
    # Still beyond the limit or inside the hysteresis band: stays open. Severity only rises,
    # and only when a more extreme tier has itself persisted (on a current reading).
    if not current:
        sustained = -1
    raised = VitalCondition(
        tuple(since), ts, max(cond.level, sustained), value, worst, None, cond.opened_at
    )
    if sustained > cond.level:
        return raised, _candidate(
            lp,
            "update",
            sustained,
            ts,
            profile,
            value=value,
            worst=worst,
            limit=thresholds[sustained],
            source=source,
        )
    return raised, None


def _candidate(
    lp: _LimitPlan,
    action: Action,
    level: int,
    ts: datetime,
    profile: ResidentProfile,
    **values: float | str,
) -> AlertCandidate:
    subject = profile.subject
    return AlertCandidate(
        rule_id=lp.rule_id,
        action=action,
        subject=subject,
        dedupe_key=f"{lp.rule_id}:{subject}",
        severity=lp.severities[level],
        ts=ts,
        title=lp.titles[level],
        values=dict(values),
    )
