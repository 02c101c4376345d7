"""Settings of the personal-baseline rules (rules/baseline.py): learning, the sustained
deviations "baseline.hr" / "baseline.rr", and the IDSA "fever" rule, each default with its
source; and their durations compiled once per config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Self

from pydantic import Field, model_validator

from rules.config import RuleConfig
from rules.types import Severity

__all__ = ["BaselineConfig", "BaselinePlan", "DeviationConfig", "FeverConfig"]


class DeviationConfig(RuleConfig):
    """Raise when tonight's resting median exceeds baseline + max(mad_k x MAD x 1.4826,
    min_rise); clear when it is back to at most that limit - clear_margin."""

    enabled: bool = True
    mad_k: float = Field(default=3.0, gt=0)
    min_rise: float = Field(gt=0)
    clear_margin: float = Field(ge=0)
    # "Sustained": tonight's resting readings must span this long and number this many.
    min_span_s: float = Field(default=7200.0, ge=0)
    min_readings: int = Field(default=20, ge=1)
    # The comparison needs tonight's median; recomputing it every few minutes is plenty.
    evaluate_every_s: float = Field(default=300.0, ge=0)
    severity: Severity = "medium"


class FeverConfig(RuleConfig):
    """IDSA fever in long-term care residents (High KP et al., Clin Infect Dis 2009;48:149-71;
    the same definition in the revised McGeer criteria, Stone ND et al., Infect Control Hosp
    Epidemiol 2012;33:965-77): a single oral temperature > 37.8 °C, or repeated oral > 37.2 °C
    (rectal > 37.5 °C), or a rise > 1.1 °C over the resident's baseline.

    The thresholds apply to the `temp` metric as delivered and assume it is core-equivalent
    (oral). Wrist and bed skin temperatures read lower: a source that is not corrected to
    core needs its own thresholds through overrides, or this rule misses fevers.
    """

    enabled: bool = True
    single_c: float = Field(default=37.8, ge=35, le=42)
    repeated_c: float = Field(default=37.2, ge=35, le=42)
    # "Repeated": this many readings above repeated_c, each at least min_gap apart (two
    # readings minutes apart are one measurement episode), within the window.
    repeated_count: int = Field(default=2, ge=2, le=10)
    repeated_min_gap_s: float = Field(default=1800.0, ge=0)
    repeated_window_s: float = Field(default=43_200.0, gt=0)
    baseline_rise_c: float = Field(default=1.1, gt=0, le=5)
    # Afebrile (every reading <= repeated_c and within baseline + rise) for this long clears.
    clear_after_s: float = Field(default=86_400.0, ge=0)
    severity: Severity = "medium"

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.repeated_c > self.single_c:
            raise ValueError("repeated_c must not exceed single_c")
        if self.repeated_min_gap_s >= self.repeated_window_s:
            raise ValueError("repeated_min_gap_s must be shorter than repeated_window_s")
        return self


class BaselineConfig(RuleConfig):
    # Seven days of per-day medians with at least three before use (project choice: a week
    # covers the weekly routine; three is the fewest days a median and MAD say anything
    # about). Wearable studies flag illness as resting HR above the wearer's own recent
    # baseline (Radin JM et al., Lancet Digit Health 2020;2:e85-93; Mishra T et al., Nat
    # Biomed Eng 2020;4:1208-20).
    window_days: int = Field(default=7, ge=2, le=28)
    min_days: int = Field(default=3, ge=1)
    # A day counts toward the baseline only with this many readings of that metric.
    min_readings_per_day: int = Field(default=12, ge=1)
    # "At rest": readings between these local hours (00:00-05:00 is the stretch residents of
    # long-term care are most reliably asleep in bed, so HR and RR are closest to resting
    # values), unless the bed sensor says the resident is up. The window lies within one day.
    rest_start_hour: int = Field(default=0, ge=0, le=23)
    rest_end_hour: int = Field(default=5, ge=1, le=24)
    # An "occupied = 0" bed reading excludes readings for this long after it.
    occupancy_max_age_s: float = Field(default=900.0, ge=0)
    # Floors under the MAD rule (project choices): 10 bpm sits well above the night-to-night
    # spread of a resting median (a few bpm) yet below the rises seen with infection in the
    # wearable studies above. Night RR 3/min: respiratory rate is among the best predictors of
    # serious adverse events and is often the first sign to move (Cretikos MA et al., Med J
    # Aust 2008;188:657-9).
    hr: DeviationConfig = DeviationConfig(min_rise=10.0, clear_margin=3.0)
    rr: DeviationConfig = DeviationConfig(min_rise=3.0, clear_margin=1.0)
    fever: FeverConfig = FeverConfig()
    max_clock_skew_s: float = Field(default=300.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.min_days > self.window_days:
            raise ValueError("min_days must not exceed window_days")
        if self.rest_start_hour >= self.rest_end_hour:
            raise ValueError("rest_start_hour must be before rest_end_hour (same local day)")
        return self

    @cached_property
    def plan(self) -> BaselinePlan:
        """Durations as timedeltas, computed once per config."""
        f = self.fever
        return BaselinePlan(
            skew=timedelta(seconds=self.max_clock_skew_s),
            occupancy_max_age=timedelta(seconds=self.occupancy_max_age_s),
            min_span={
                "hr": timedelta(seconds=self.hr.min_span_s),
                "rr": timedelta(seconds=self.rr.min_span_s),
            },
            evaluate_every={
                "hr": timedelta(seconds=self.hr.evaluate_every_s),
                "rr": timedelta(seconds=self.rr.evaluate_every_s),
            },
            repeated_min_gap=timedelta(seconds=f.repeated_min_gap_s),
            repeated_window=timedelta(seconds=f.repeated_window_s),
            fever_clear_after=timedelta(seconds=f.clear_after_s),
        )


@dataclass(frozen=True, slots=True)
class BaselinePlan:
    """A `BaselineConfig`'s durations as timedeltas."""

    skew: timedelta
    occupancy_max_age: timedelta
    min_span: Mapping[str, timedelta]
    evaluate_every: Mapping[str, timedelta]
    repeated_min_gap: timedelta
    repeated_window: timedelta
    fever_clear_after: timedelta
