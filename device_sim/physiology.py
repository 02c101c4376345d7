"""Pure physiology of a simulated resident: vital signs and bed occupancy over the day.

No I/O, no clock: time is a parameter and randomness comes from the numpy Generator passed in,
so the same seed and the same times give the same values.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Final, NotRequired, TypedDict
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from rules.vocabulary import VITAL_SIGNS

DEFAULT_TZ: Final[tzinfo] = ZoneInfo("Asia/Shanghai")

# Order of the six vital signs in the arrays below.
METRICS: Final = VITAL_SIGNS
Drift = tuple[float, float, float, float, float, float]
# What is going on besides rest and sleep (a meal, exercise, a fever) as offsets of the true
# values, in METRICS order; the sensors then read them with their usual noise.
Effects = tuple[float, float, float, float, float, float]

# Fever drives heart and breathing rate with it: about 10 beats/min per °C (Liebermeister's
# rule) and about 2 breaths/min per °C.
FEVER_HR_PER_C: Final = 10.0
FEVER_RR_PER_C: Final = 2.0

# Slow, correlated drift of each metric around its mean (Ornstein-Uhlenbeck): stationary
# standard deviation and time constant. Temperature and blood pressure wander over tens of
# minutes, heart rate and SpO2 over a few.
_OU_SD: Final = np.array([3.0, 0.6, 1.0, 0.08, 5.0, 3.0])
_OU_TAU_S: Final = np.array([600.0, 300.0, 600.0, 3600.0, 1800.0, 1800.0])
# Independent per-reading sensor noise on top of the drift.
_WEARABLE_SD: Final = np.array([1.0, 0.4, 0.5, 0.03, 2.0, 1.5])
_BED_HR_SD: Final = 1.5
_BED_RR_SD: Final = 0.7

# What a plausible elderly resident shows; all well inside protocol v1's accepted ranges, so a
# simulated value is never rejected as out_of_range. (Temperature up to 41 °C: a fever.)
_LOW: Final = np.array([40.0, 88.0, 8.0, 35.0, 85.0, 45.0])
_HIGH: Final = np.array([150.0, 100.0, 30.0, 41.0, 190.0, 115.0])
_MIN_PULSE_PRESSURE: Final = 20

_SLEEP_TAU_S: Final = 900.0  # falling asleep / waking up is gradual, not a step
_MAX_HAZARD_DT_S: Final = 300.0  # a long gap between calls must not make an excursion certain
_NIGHT_EXIT_MEAN_S: Final = 3 * 3600.0  # about two toilet trips a night
_NIGHT_EXIT_S: Final = (180.0, 600.0)
_DAY_REST_MEAN_S: Final = 6 * 3600.0  # an occasional lie-down outside the nap
_DAY_REST_S: Final = (600.0, 2400.0)
_TURN_PROBABILITY: Final = 0.05


class Vitals(TypedDict):
    hr: int
    spo2: int
    rr: int
    temp: float
    sbp: int
    dbp: int
    on_o2: bool


class BedReading(TypedDict):
    occupied: bool
    movement: float
    hr: NotRequired[int]  # a bed sensor sees heart and breathing only with someone in bed
    rr: NotRequired[int]


@dataclass(frozen=True, slots=True)
class Baseline:
    """A resident's own resting values and daily routine (local hours, 0-24), drawn once."""

    hr: float
    spo2: float
    rr: float
    temp: float
    sbp: float
    dbp: float
    bedtime_h: float
    wake_h: float
    nap_start_h: float
    nap_end_h: float


@dataclass(frozen=True, slots=True)
class ResidentState:
    """Where a resident's physiology stands at `t` (None until the first `advance`)."""

    baseline: Baseline
    t: datetime | None = None
    drift: Drift = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    sleep: float = 0.0  # 0 awake .. 1 asleep
    scheduled_in_bed: bool = False
    occupied: bool = False
    # An unscheduled change until this time: out of bed at night, or lying down by day.
    excursion_until: datetime | None = None


def draw_baseline(rng: np.random.Generator) -> Baseline:
    nap_start = float(rng.uniform(12.5, 13.5))
    return Baseline(
        hr=float(np.clip(rng.normal(72.0, 8.0), 55.0, 95.0)),
        spo2=float(rng.uniform(95.0, 98.0)),
        rr=float(rng.uniform(14.0, 18.0)),
        temp=float(rng.uniform(36.3, 36.9)),
        sbp=float(rng.uniform(115.0, 140.0)),
        dbp=float(rng.uniform(70.0, 85.0)),
        bedtime_h=float(rng.uniform(21.75, 22.25)),
        wake_h=float(rng.uniform(6.25, 6.75)),
        nap_start_h=nap_start,
        nap_end_h=nap_start + float(rng.uniform(0.5, 1.3)),
    )


def new_resident(rng: np.random.Generator) -> ResidentState:
    return ResidentState(baseline=draw_baseline(rng))


def advance(
    state: ResidentState, t: datetime, rng: np.random.Generator, tz: tzinfo = DEFAULT_TZ
) -> ResidentState:
    """The resident's state at `t`, which must be timezone-aware and not before `state.t`."""
    if t.utcoffset() is None:
        raise ValueError("t must be timezone-aware")
    if state.t is not None and t < state.t:
        raise ValueError(f"time went backwards: {t.isoformat()} < {state.t.isoformat()}")
    if t == state.t:  # a second device of the same resident reading at the same moment
        return state
    first = state.t is None
    dt = 0.0 if state.t is None else (t - state.t).total_seconds()
    base = state.baseline
    z = rng.standard_normal(len(METRICS))
    if first:
        # Start from the drift's stationary distribution, not from exactly the mean.
        drift = _OU_SD * z
    else:
        decay, spread = _ou_step(dt)
        drift = np.asarray(state.drift) * decay + spread * z

    hour = local_hour(t, tz)
    scheduled = _scheduled_in_bed(base, hour)
    # An excursion ends on time, or early when the routine changes (bedtime, waking, nap).
    excursion_until = state.excursion_until
    if first or scheduled != state.scheduled_in_bed:
        excursion_until = None
    if excursion_until is not None and t >= excursion_until:
        excursion_until = None
    start_draw, length_draw = rng.random(2)
    if excursion_until is None and not first:
        if scheduled and _at_night(base, hour):
            mean_s, (low_s, high_s) = _NIGHT_EXIT_MEAN_S, _NIGHT_EXIT_S
        elif not scheduled:
            mean_s, (low_s, high_s) = _DAY_REST_MEAN_S, _DAY_REST_S
        else:  # no trips out of the nap
            mean_s, low_s, high_s = math.inf, 0.0, 0.0
        if start_draw < -math.expm1(-min(dt, _MAX_HAZARD_DT_S) / mean_s):
            excursion_until = t + timedelta(seconds=low_s + length_draw * (high_s - low_s))
    occupied = scheduled != (excursion_until is not None)

    # Asleep only in bed at a scheduled time; a daytime lie-down or a night trip is awake.
    target = 1.0 if occupied and scheduled else 0.0
    sleep = target if first else target + (state.sleep - target) * math.exp(-dt / _SLEEP_TAU_S)
    return ResidentState(
        baseline=base,
        t=t,
        drift=_as_drift(drift),
        sleep=sleep,
        scheduled_in_bed=scheduled,
        occupied=occupied,
        excursion_until=excursion_until,
    )


def fever_effects(elevation_c: float) -> Effects:
    """A temperature `elevation_c` °C above the resident's own, with the heart and breathing
    rate that rise with it."""
    e = max(0.0, elevation_c)
    return (FEVER_HR_PER_C * e, 0.0, FEVER_RR_PER_C * e, e, 0.0, 0.0)


def add_effects(*parts: Effects) -> Effects:
    hr, spo2, rr, temp, sbp, dbp = (sum(values) for values in zip(*parts, strict=True))
    return (hr, spo2, rr, temp, sbp, dbp)


def scheduled_in_bed(baseline: Baseline, t: datetime, tz: tzinfo = DEFAULT_TZ) -> bool:
    """Whether the resident's routine has them in bed at `t` (night or afternoon nap)."""
    return _scheduled_in_bed(baseline, local_hour(t, tz))


def vitals_at(
    state: ResidentState,
    t: datetime,
    rng: np.random.Generator,
    tz: tzinfo = DEFAULT_TZ,
    *,
    effects: Effects | None = None,
) -> tuple[ResidentState, Vitals]:
    """Advance to `t` and read the resident's vital signs as a wearable reports them;
    `effects` shift the true values (see `Effects`)."""
    state = advance(state, t, rng, tz)
    noisy = _latent(state, tz, effects) + _WEARABLE_SD * rng.standard_normal(len(METRICS))
    # np.clip's own overhead dwarfs six numbers; this is what it computes.
    hr, spo2, rr, temp, sbp, dbp = np.minimum(np.maximum(noisy, _LOW), _HIGH).tolist()
    sbp_i = round(sbp)
    vitals: Vitals = {
        "hr": round(hr),
        "spo2": round(spo2),
        "rr": round(rr),
        "temp": round(temp, 1),
        "sbp": sbp_i,
        "dbp": min(round(dbp), sbp_i - _MIN_PULSE_PRESSURE),
        "on_o2": False,
    }
    return state, vitals


def bed_at(
    state: ResidentState,
    t: datetime,
    rng: np.random.Generator,
    tz: tzinfo = DEFAULT_TZ,
    *,
    effects: Effects | None = None,
) -> tuple[ResidentState, BedReading]:
    """Advance to `t` and read what a bed sensor under the resident's mattress reports."""
    state = advance(state, t, rng, tz)
    if not state.occupied:
        return state, {"occupied": False, "movement": 0.0}
    latent = _latent(state, tz, effects)
    hr = _clip(float(latent[0] + _BED_HR_SD * rng.standard_normal()), _LOW[0], _HIGH[0])
    rr = _clip(float(latent[2] + _BED_RR_SD * rng.standard_normal()), _LOW[2], _HIGH[2])
    turn, turn_size = rng.random(2)
    if state.sleep >= 0.5:
        # Asleep: nearly still, with the odd turn.
        movement = 0.3 + 0.5 * turn_size if turn < _TURN_PROBABILITY else rng.beta(1.2, 25.0)
    else:
        movement = rng.beta(2.0, 8.0)
    reading: BedReading = {
        "occupied": True,
        "movement": round(_clip(float(movement), 0.0, 1.0), 2),
        "hr": round(hr),
        "rr": round(rr),
    }
    return state, reading


def _clip(value: float, low: float, high: float) -> float:
    return float(min(max(value, low), high))


def local_hour(t: datetime, tz: tzinfo) -> float:
    """Hours since local midnight, as a float."""
    local = t.astimezone(tz)
    return local.hour + local.minute / 60 + (local.second + local.microsecond / 1e6) / 3600


def _latent(
    state: ResidentState, tz: tzinfo, effects: Effects | None = None
) -> NDArray[np.float64]:
    """The true (noise-free) values: baseline, circadian rhythm, sleep and activity, drift,
    and any effects."""
    if state.t is None:
        raise ValueError("the resident state has not been advanced to a time yet")
    base = state.baseline
    # +1 in the late afternoon, -1 in the small hours: the circadian low of heart rate,
    # temperature and blood pressure.
    c = math.cos(2 * math.pi * (local_hour(state.t, tz) - 16.5) / 24)
    s = state.sleep
    up = 0.0 if state.occupied else 1.0
    mean = np.array(
        [
            base.hr + 2.0 * c - 4.0 * s + 1.5 * up,
            base.spo2 - 0.7 * s,
            base.rr - 1.0 * s + 0.5 * up,
            base.temp + 0.2 * c,
            base.sbp + 4.0 * c - 8.0 * s + 3.0 * up,  # nocturnal dipping
            base.dbp + 2.0 * c - 5.0 * s + 2.0 * up,
        ]
    )
    latent: NDArray[np.float64] = mean + np.asarray(state.drift)
    if effects is not None:
        # Added last, and only when given, so callers without effects get the same floats.
        latent = latent + np.asarray(effects)
    return latent


def _at_night(base: Baseline, hour: float) -> bool:
    return hour >= base.bedtime_h or hour < base.wake_h


def _scheduled_in_bed(base: Baseline, hour: float) -> bool:
    return _at_night(base, hour) or base.nap_start_h <= hour < base.nap_end_h


@functools.lru_cache(maxsize=64)
def _ou_step(dt: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Decay and noise scale of an exact OU step of `dt` seconds (right for any step length;
    cached because a run steps by the same few intervals over and over)."""
    decay: NDArray[np.float64] = np.exp(-dt / _OU_TAU_S)
    spread: NDArray[np.float64] = _OU_SD * np.sqrt(-np.expm1(-2.0 * dt / _OU_TAU_S))
    return decay, spread


def _as_drift(values: NDArray[np.float64]) -> Drift:
    hr, spo2, rr, temp, sbp, dbp = values.tolist()
    return (hr, spo2, rr, temp, sbp, dbp)
