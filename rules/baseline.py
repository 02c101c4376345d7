"""Personal baselines (resting HR, night RR, temperature) learnt from per-day summaries, the
sustained-deviation rules "baseline.hr" / "baseline.rr", and the IDSA "fever" rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from statistics import median
from typing import Final, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from rules.config import RuleConfig
from rules.types import Action, AlertCandidate, ResidentProfile, Severity, Vital

__all__ = [
    "Baseline",
    "BaselineConfig",
    "BaselineState",
    "DaySummary",
    "DeviationConfig",
    "FeverConfig",
    "baseline_step",
]

Tracked = Literal["hr", "rr", "temp"]
FEVER_RULE: Final = "fever"
# MAD x 1.4826 estimates the standard deviation of normally distributed data.
MAD_TO_SD: Final = 1.4826
# Histogram bin widths: finer than the devices resolve (integer bpm, 0.5 breaths/min from
# bed sensors, 0.1 °C thermometers) so the day's median is exact for practical purposes.
RESOLUTION: Final[Mapping[Tracked, float]] = {"hr": 1.0, "rr": 0.5, "temp": 0.05}


# --- configuration -------------------------------------------------------------------------


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
    def plan(self) -> _Plan:
        """Durations as timedeltas, computed once per config."""
        f = self.fever
        return _Plan(
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
class _Plan:
    skew: timedelta
    occupancy_max_age: timedelta
    min_span: Mapping[str, timedelta]
    evaluate_every: Mapping[str, timedelta]
    repeated_min_gap: timedelta
    repeated_window: timedelta
    fever_clear_after: timedelta


# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DaySummary:
    """One completed local day of one metric."""

    day: int  # local date, proleptic ordinal
    median: float
    n: int
    flagged: bool  # that metric's alert was open that day: learnt only if nothing else is


@dataclass(frozen=True, slots=True)
class Baseline:
    median: float  # of the per-day medians
    mad: float  # median absolute deviation of the per-day medians (day-to-day spread)
    days: int


@dataclass(frozen=True, slots=True)
class Track:
    """One metric: the window's day summaries and a sparse histogram of the current day."""

    days: tuple[DaySummary, ...] = ()
    day: int = 0
    hist: Mapping[int, int] = field(default_factory=dict)  # round(value / resolution) -> count
    n: int = 0
    first: datetime | None = None
    last: datetime | None = None
    flagged: bool = False
    baseline: Baseline | None = None  # from `days`, recomputed when a day closes


@dataclass(frozen=True, slots=True)
class Deviation:
    open: bool = False
    last_eval: datetime | None = None


@dataclass(frozen=True, slots=True)
class Fever:
    open: bool = False
    strength: int = 0  # strongest criterion this episode: 1 baseline, 2 repeated, 3 single
    onset: datetime | None = None
    last_febrile: datetime | None = None
    afebrile_since: datetime | None = None
    peak: float = 0.0
    # Readings above repeated_c inside the window, thinned to one per repeated_min_gap.
    above: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class LocalDay:
    """The resident's current local day and its rest window, as UTC instants."""

    day: int
    start: datetime
    end: datetime
    rest_start: datetime
    rest_end: datetime


@dataclass(frozen=True, slots=True)
class BaselineState:
    """Per resident. Bounded: three metrics x (window_days summaries + one sparse histogram
    of a physiological range), a few timestamps; no raw readings."""

    clock: LocalDay | None = None
    hr: Track = field(default_factory=Track)
    rr: Track = field(default_factory=Track)
    temp: Track = field(default_factory=Track)
    hr_dev: Deviation = field(default_factory=Deviation)
    rr_dev: Deviation = field(default_factory=Deviation)
    fever: Fever = field(default_factory=Fever)
    occupancy: tuple[datetime, bool] | None = None

    def baseline(self, metric: Tracked) -> Baseline | None:
        """The baseline in use for `metric`, or None while it is still being learnt."""
        track: Track = getattr(self, metric)
        return track.baseline


# --- the rules -----------------------------------------------------------------------------


def baseline_step(
    state: BaselineState,
    vital: Vital,
    *,
    profile: ResidentProfile,
    now: datetime,
    config: BaselineConfig,
) -> tuple[BaselineState, list[AlertCandidate]]:
    """Feed one reading (hr, rr, temp, occupied; others are ignored)."""
    metric = vital.metric
    if metric not in RESOLUTION and metric != "occupied":
        return state, []
    plan = config.plan
    ts = vital.ts
    if ts - now > plan.skew or vital.value != vital.value:
        return state, []
    if metric == "occupied":
        return replace(state, occupancy=(ts, vital.value >= 0.5)), []

    clock = state.clock
    if clock is None or ts >= clock.end:
        state = _roll(state, ts, profile, config)
        clock = state.clock
        assert clock is not None
    elif ts < clock.start:
        # An earlier, closed day cannot be relearnt; it can still show a fever.
        if metric == "temp":
            return _fever(state, vital.value, ts, profile, config, learn=False)
        return state, []

    if metric == "temp":
        return _fever(state, vital.value, ts, profile, config, learn=True)
    if not clock.rest_start <= ts < clock.rest_end:
        return state, []
    occupancy = state.occupancy
    if (
        occupancy is not None
        and not occupancy[1]
        and timedelta(0) <= ts - occupancy[0] <= plan.occupancy_max_age
    ):
        return state, []  # up and about: not a resting reading
    return _resting(state, "hr" if metric == "hr" else "rr", vital.value, ts, profile, config)


def _resting(
    state: BaselineState,
    metric: Literal["hr", "rr"],
    value: float,
    ts: datetime,
    profile: ResidentProfile,
    config: BaselineConfig,
) -> tuple[BaselineState, list[AlertCandidate]]:
    track = _add(getattr(state, metric), value, ts, RESOLUTION[metric])
    dev: Deviation = state.hr_dev if metric == "hr" else state.rr_dev
    cfg = config.hr if metric == "hr" else config.rr
    plan = config.plan
    candidates: list[AlertCandidate] = []
    assert track.first is not None
    due = dev.last_eval is None or ts - dev.last_eval >= plan.evaluate_every[metric]
    if (
        cfg.enabled
        and due
        and track.n >= cfg.min_readings
        and ts - track.first >= plan.min_span[metric]
    ):
        base = track.baseline
        if base is not None:
            observed = _hist_median(track.hist, RESOLUTION[metric])
            limit = base.median + max(cfg.mad_k * MAD_TO_SD * base.mad, cfg.min_rise)
            values: dict[str, float | str] = {
                "observed": observed,
                "baseline": base.median,
                "mad": base.mad,
                "limit": limit,
                "readings": track.n,
                "baseline_days": base.days,
            }
            if not dev.open and observed > limit:
                candidates.append(_deviation(metric, "raise", ts, profile, cfg.severity, values))
                dev = Deviation(open=True, last_eval=ts)
            elif dev.open and observed <= limit - cfg.clear_margin:
                candidates.append(_deviation(metric, "clear", ts, profile, cfg.severity, values))
                dev = Deviation(open=False, last_eval=ts)
            else:
                dev = Deviation(open=dev.open, last_eval=ts)
    if dev.open and not track.flagged:
        track = replace(track, flagged=True)
    # Built directly rather than with dataclasses.replace: this runs for every resting reading.
    if metric == "hr":
        return BaselineState(
            state.clock,
            track,
            state.rr,
            state.temp,
            dev,
            state.rr_dev,
            state.fever,
            state.occupancy,
        ), candidates
    return BaselineState(
        state.clock, state.hr, track, state.temp, state.hr_dev, dev, state.fever, state.occupancy
    ), candidates


def _fever(
    state: BaselineState,
    value: float,
    ts: datetime,
    profile: ResidentProfile,
    config: BaselineConfig,
    *,
    learn: bool,
) -> tuple[BaselineState, list[AlertCandidate]]:
    cfg = config.fever
    plan = config.plan
    temp = _add(state.temp, value, ts, RESOLUTION["temp"]) if learn else state.temp
    f = state.fever
    if not cfg.enabled:
        return replace(state, temp=temp), []

    horizon = ts - plan.repeated_window
    above = tuple(t for t in f.above if t >= horizon)
    if value > cfg.repeated_c and (not above or ts - above[-1] >= plan.repeated_min_gap):
        above = (*above, ts)
    base = temp.baseline
    over_baseline = base is not None and value > base.median + cfg.baseline_rise_c
    strength = 0
    if value > cfg.single_c:
        strength = 3
    elif value > cfg.repeated_c and len(above) >= cfg.repeated_count:
        strength = 2
    elif over_baseline:
        strength = 1
    febrile = value > cfg.repeated_c or over_baseline

    candidates: list[AlertCandidate] = []
    if not f.open:
        if strength:
            f = Fever(True, strength, ts, ts, None, value, above)
            candidates.append(_fever_candidate("raise", f, value, ts, profile, cfg, base))
        elif above != f.above:
            f = replace(f, above=above)
    elif febrile:
        stronger = strength > f.strength
        f = Fever(True, max(f.strength, strength), f.onset, ts, None, max(f.peak, value), above)
        if stronger:
            candidates.append(_fever_candidate("update", f, value, ts, profile, cfg, base))
    else:
        since = f.afebrile_since or ts
        if ts - since >= plan.fever_clear_after:
            candidates.append(_fever_candidate("clear", f, value, ts, profile, cfg, base))
            f = Fever(above=above)
        else:
            f = replace(f, afebrile_since=since, above=above)
    if learn and f.open and not temp.flagged:
        temp = replace(temp, flagged=True)  # a febrile day does not teach "normal"
    return BaselineState(
        state.clock, state.hr, state.rr, temp, state.hr_dev, state.rr_dev, f, state.occupancy
    ), candidates


# --- helpers -------------------------------------------------------------------------------


def _add(track: Track, value: float, ts: datetime, resolution: float) -> Track:
    key = round(value / resolution)
    hist = dict(track.hist)
    hist[key] = hist.get(key, 0) + 1
    first = track.first if track.first is not None and track.first <= ts else ts
    last = track.last if track.last is not None and track.last >= ts else ts
    return Track(
        track.days, track.day, hist, track.n + 1, first, last, track.flagged, track.baseline
    )


def _hist_median(hist: Mapping[int, int], resolution: float) -> float:
    total = sum(hist.values())
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    seen = 0
    lower: int | None = None
    for key in sorted(hist):
        seen += hist[key]
        if lower is None and seen > lower_rank:
            lower = key
        if seen > upper_rank:
            assert lower is not None
            return (lower + key) / 2 * resolution
    raise ValueError("empty histogram")


def robust_baseline(days: tuple[DaySummary, ...], min_days: int) -> Baseline | None:
    """Median and MAD of the per-day medians. Days on which the metric's alert was open are
    left out while enough others remain; once they are most of the window, they are the new
    normal (by then staff have been told for days)."""
    usable = [d.median for d in days if not d.flagged]
    if len(usable) < min_days:
        usable = [d.median for d in days]
    if len(usable) < min_days:
        return None
    mid = median(usable)
    return Baseline(
        median=float(mid), mad=float(median(abs(x - mid) for x in usable)), days=len(usable)
    )


def _roll(
    state: BaselineState, ts: datetime, profile: ResidentProfile, config: BaselineConfig
) -> BaselineState:
    """Close the current local day (if any) and open the one `ts` falls in."""
    clock = _local_day(ts, profile.timezone, config.rest_start_hour, config.rest_end_hour)

    def close(track: Track, metric: Tracked, alert_open: bool) -> Track:
        days = track.days
        if track.n >= config.min_readings_per_day:
            day_median = _hist_median(track.hist, RESOLUTION[metric])
            days = (*days, DaySummary(track.day, day_median, track.n, track.flagged))
        days = tuple(d for d in days if d.day >= clock.day - config.window_days)
        return Track(
            days=days,
            day=clock.day,
            flagged=alert_open,
            baseline=robust_baseline(days, config.min_days),
        )

    return BaselineState(
        clock,
        close(state.hr, "hr", state.hr_dev.open),
        close(state.rr, "rr", state.rr_dev.open),
        close(state.temp, "temp", state.fever.open),
        state.hr_dev,
        state.rr_dev,
        state.fever,
        state.occupancy,
    )


def _local_day(ts: datetime, zone: str, rest_start_hour: int, rest_end_hour: int) -> LocalDay:
    tz = ZoneInfo(zone)
    date = ts.astimezone(tz).date()

    def at(hour: int) -> datetime:
        day = date + timedelta(days=hour // 24)
        # Computed at local wall-clock hours, so a DST change moves the instants, not the hours.
        return datetime.combine(day, time(hour % 24), tzinfo=tz).astimezone(UTC)

    return LocalDay(date.toordinal(), at(0), at(24), at(rest_start_hour), at(rest_end_hour))


_DEVIATION_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "hr": ("Resting heart rate", "bpm"),
    "rr": ("Night respiratory rate", "/min"),
}


def _deviation(
    metric: Literal["hr", "rr"],
    action: Action,
    ts: datetime,
    profile: ResidentProfile,
    severity: Severity,
    values: dict[str, float | str],
) -> AlertCandidate:
    label, unit = _DEVIATION_LABELS[metric]
    rule_id = f"baseline.{metric}"
    if action == "clear":
        title = f"{label} back near personal baseline"
    else:
        title = (
            f"{label} above personal baseline: {values['observed']:g} {unit} "
            f"(usual {values['baseline']:g})"
        )
    return AlertCandidate(
        rule_id=rule_id,
        action=action,
        subject=profile.subject,
        dedupe_key=f"{rule_id}:{profile.subject}",
        severity=severity,
        ts=ts,
        title=title,
        values=values,
    )


def _fever_candidate(
    action: Action,
    fever: Fever,
    value: float,
    ts: datetime,
    profile: ResidentProfile,
    cfg: FeverConfig,
    base: Baseline | None,
) -> AlertCandidate:
    criterion, why = {
        3: (f"single>{cfg.single_c:g}", f"a reading above {cfg.single_c:g} °C"),
        2: (f"repeated>{cfg.repeated_c:g}", f"repeated readings above {cfg.repeated_c:g} °C"),
        1: (f"baseline+{cfg.baseline_rise_c:g}", f"{cfg.baseline_rise_c:g} °C over usual"),
    }[fever.strength]
    values: dict[str, float | str] = {"criterion": criterion, "temp": value, "peak": fever.peak}
    if base is not None:
        values["baseline"] = base.median
    if fever.onset is not None:
        values["onset"] = fever.onset.isoformat()
    title = "Fever resolved" if action == "clear" else f"Fever {value:.1f} °C: {why}"
    return AlertCandidate(
        rule_id=FEVER_RULE,
        action=action,
        subject=profile.subject,
        dedupe_key=f"{FEVER_RULE}:{profile.subject}",
        severity=cfg.severity,
        ts=ts,
        title=title,
        values=values,
    )
