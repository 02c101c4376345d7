"""Personal baselines (resting HR, night RR, temperature) learnt from per-day summaries, the
sustained-deviation rules "baseline.hr" / "baseline.rr", and the IDSA "fever" rule.

Settings: rules/baseline_config.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from statistics import median
from typing import Final, Literal
from zoneinfo import ZoneInfo

from rules.baseline_config import BaselineConfig, FeverConfig
from rules.types import Action, AlertCandidate, ResidentProfile, Severity, Vital

__all__ = [
    "Baseline",
    "BaselineState",
    "DaySummary",
    "baseline_step",
]

Tracked = Literal["hr", "rr", "temp"]
FEVER_RULE: Final = "fever"
# MAD x 1.4826 estimates the standard deviation of normally distributed data.
MAD_TO_SD: Final = 1.4826
# Histogram bin widths: finer than the devices resolve (integer bpm, 0.5 breaths/min from
# bed sensors, 0.1 °C thermometers) so the day's median is exact for practical purposes.
RESOLUTION: Final[Mapping[Tracked, float]] = {"hr": 1.0, "rr": 0.5, "temp": 0.05}


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
