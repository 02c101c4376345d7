"""Vital-sign threshold settings: the limits per metric (with their plausible ranges), the
defaults and why, and the configuration compiled for the per-reading path (rules/vitals.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from itertools import pairwise
from typing import ClassVar, Final, Self

from pydantic import Field, model_validator

from rules.config import RuleConfig
from rules.types import SEVERITY_ORDER, Severity, Source
from rules.vocabulary import METRICS as VOCABULARY
from rules.vocabulary import RANGES, UNITS, VITAL_SIGNS

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
    def plan(self) -> VitalsPlan:
        """The configuration compiled for the per-reading path (built once per config)."""
        base = {m: getattr(self, m) for m in METRICS}
        return VitalsPlan(
            scale1=_compile(base, self.max_gap_s),
            scale2=_compile({**base, "spo2": self.spo2_scale2}, self.max_gap_s),
            spot_sources=frozenset(self.spot_sources),
            max_skew=timedelta(seconds=self.max_clock_skew_s),
        )


# --- compiled plan (plain slotted objects: no pydantic on the per-reading path) --------------


@dataclass(frozen=True, slots=True)
class LimitPlan:
    """One side of one metric, compiled."""

    rule_id: str
    low: bool
    thresholds: tuple[float, ...]  # the limit, then its tiers
    severities: tuple[Severity, ...]
    titles: tuple[str, ...]
    persistence: timedelta
    clear_at: float
    clear_after: timedelta


@dataclass(frozen=True, slots=True)
class MetricPlan:
    """One metric's limits, compiled."""

    lo: float  # lo <= value <= hi breaches nothing
    hi: float
    max_gap: timedelta
    max_age: timedelta
    rule_ids: tuple[str, ...]
    limits: tuple[LimitPlan, ...]


@dataclass(frozen=True, slots=True)
class VitalsPlan:
    """A `VitalsConfig` compiled: the metric plans for NEWS2 SpO2 scale 1 and scale 2."""

    scale1: Mapping[str, MetricPlan]
    scale2: Mapping[str, MetricPlan]
    spot_sources: frozenset[str]
    max_skew: timedelta


def _compile(metrics: Mapping[str, MetricLimits], default_gap_s: float) -> dict[str, MetricPlan]:
    out: dict[str, MetricPlan] = {}
    for metric, limits in metrics.items():
        label, unit = _LABELS[metric], limits.unit
        plans: list[LimitPlan] = []
        for side, limit in (("low", limits.low), ("high", limits.high)):
            if limit is None:
                continue
            low = side == "low"
            thresholds = (limit.threshold, *(t.threshold for t in limit.tiers))
            word = "below" if low else "above"
            plans.append(
                LimitPlan(
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
        out[metric] = MetricPlan(
            lo=limits.low.threshold if limits.low is not None else float("-inf"),
            hi=limits.high.threshold if limits.high is not None else float("inf"),
            max_gap=timedelta(seconds=limits.max_gap_s or default_gap_s),
            max_age=timedelta(seconds=limits.max_age_s or limits.default_max_age_s),
            rule_ids=tuple(p.rule_id for p in plans),
            limits=tuple(plans),
        )
    return out
