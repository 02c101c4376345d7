"""A live-ward resident's day (pure): meals, the morning wash (the wearable comes off), everyday
activities with their accelerometer recordings, and fevers; and what they do to the vitals.

Each local day is drawn from its own random stream (seed, resident, date), so a day is the
same whichever day a run starts on and however long it lasts.
"""

from __future__ import annotations

import bisect
import math
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final, cast

import numpy as np

from device_sim.motion import AdlKind, Placement, Recording
from device_sim.motion import generate as generate_motion
from device_sim.physiology import (
    DEFAULT_TZ,
    Baseline,
    Effects,
    add_effects,
    fever_effects,
    scheduled_in_bed,
)
from device_sim.scenarios.stream import ADL_GAP_MIN, ADL_HOURS, DAILY_ADLS, MOTION_HZ

_ROUTINE_STREAM: Final = 2  # apart from the physiology (0) and device (1) streams

MEALS: Final = (("breakfast", 7.5), ("lunch", 11.75), ("dinner", 17.5))  # local hours
MEAL_JITTER_H: Final = 0.25
# After a meal: heart rate up, blood pressure down (postprandial hypotension is common in
# older people). Rises over 20 min, holds 20, fades over 50.
_MEAL_HR: Final = 6.0
_MEAL_SBP: Final = -7.0
_MEAL_DBP: Final = -3.0
_MEAL_SHAPE_S: Final = (1200.0, 1200.0, 3000.0)

WASH_START_H: Final = (8.0, 10.0)
# Shorter than the wear-off rule's 15 min grace: a daily wash is not worth a page.
WASH_S: Final = (480.0, 840.0)

# How hard each activity works the heart and lungs (walking = 1), and the SpO2 reading's
# motion artefact: an optical sensor that moves reads low for as long as it moves.
_INTENSITY: Final[dict[str, float]] = {
    "walk": 1.0,
    "stand": 0.4,
    "bend": 0.6,
    "sit_down": 0.3,
    "sit_down_hard": 0.4,
    "lie_down_slow": 0.3,
}
_ARTEFACT_KINDS: Final = frozenset({"walk", "bend"})
_ARTEFACT_DIP: Final = (3.0, 9.0)  # SpO2 points
_ACTIVITY_RECOVERY_S: Final = 300.0
_ACTIVITY_HR: Final = 15.0
_ACTIVITY_RR: Final = 4.0
_ACTIVITY_SBP: Final = 10.0
_ACTIVITY_DBP: Final = 4.0

FEVER_RISE_C: Final = (1.2, 2.5)  # above the resident's own temperature
_FEVER_RAMP_S: Final = (2 * 3600.0, 4 * 3600.0)
_FEVER_HOLD_S: Final = (6 * 3600.0, 18 * 3600.0)
_FEVER_RECOVER_S: Final = (4 * 3600.0, 8 * 3600.0)
_FEVER_DAYS_BACK: Final = 2  # the longest fever lasts 30 h


@dataclass(frozen=True, slots=True)
class Meal:
    name: str
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=sum(_MEAL_SHAPE_S))

    def level(self, t: datetime) -> float:
        return _envelope((t - self.start).total_seconds(), *_MEAL_SHAPE_S)


class Activity:
    """One everyday activity, as the wearable's accelerometer records it. The recording is
    made when first asked for: it takes milliseconds, and a short run needs few of a day's."""

    __slots__ = ("_recording", "_seed", "kind", "placement", "spo2_dip", "start")

    def __init__(
        self, start: datetime, kind: AdlKind, spo2_dip: float, placement: Placement, seed: int
    ) -> None:
        self.start = start
        self.kind = kind
        self.spo2_dip = spo2_dip  # how far the SpO2 reading falls while the sensor moves
        self.placement = placement
        self._seed = seed
        self._recording: Recording | None = None

    @property
    def recording(self) -> Recording:
        if self._recording is None:
            rng = np.random.default_rng(self._seed)
            self._recording = generate_motion(
                self.kind, placement=self.placement, hz=MOTION_HZ, rng=rng
            )
        return self._recording

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.recording.duration_s)

    def level(self, t: datetime) -> float:
        x = (t - self.start).total_seconds()
        return _INTENSITY[self.kind] * _envelope(
            x, 0.0, self.recording.duration_s, _ACTIVITY_RECOVERY_S
        )


@dataclass(frozen=True, slots=True)
class Fever:
    onset: datetime
    rise_c: float
    ramp_s: float
    hold_s: float
    recover_s: float

    @property
    def end(self) -> datetime:
        return self.onset + timedelta(seconds=self.ramp_s + self.hold_s + self.recover_s)

    def elevation(self, t: datetime) -> float:
        x = (t - self.onset).total_seconds()
        return self.rise_c * _envelope(x, self.ramp_s, self.hold_s, self.recover_s)


@dataclass(frozen=True, slots=True)
class DayPlan:
    day: date
    meals: tuple[Meal, ...]
    wash: tuple[datetime, datetime]
    activities: tuple[Activity, ...]  # in time order, 40 minutes apart or more
    fevers: tuple[Fever, ...]

    def activity_at(self, t: datetime) -> Activity | None:
        """The latest activity begun by `t` (its effects outlast it for a few minutes)."""
        i = bisect.bisect_right(self.activities, t, key=lambda a: a.start)
        return self.activities[i - 1] if i else None


class Routine:
    """One resident's days, drawn on first use and kept (a few per run)."""

    def __init__(
        self,
        key: str,
        baseline: Baseline,
        *,
        seed: int,
        placement: Placement = "waist",
        daily: bool = True,
        fever_rate: float = 0.0,
        tz: tzinfo = DEFAULT_TZ,
    ) -> None:
        """`daily`: meals, the wash and activities (off: fevers only, if any)."""
        if not (math.isfinite(fever_rate) and fever_rate >= 0):
            raise ValueError(f"fever_rate must be >= 0, got {fever_rate}")
        self.key = key
        self.baseline = baseline
        self.placement: Placement = placement
        self.daily = daily
        self.fever_rate = fever_rate
        self.tz = tz
        self._seed = seed
        self._key_hash = zlib.crc32(key.encode("utf-8"))
        self._days: dict[date, DayPlan] = {}
        self._fevers: dict[date, tuple[Fever, ...]] = {}

    def day(self, day: date) -> DayPlan:
        plan = self._days.get(day)
        if plan is None:
            plan = self._draw(day)
            self._days[day] = plan
            for old in [d for d in self._days if d < day - timedelta(days=1)]:
                del self._days[old]  # never asked for again: time only moves on
        return plan

    def fevers(self, day: date) -> tuple[Fever, ...]:
        """The fevers that start on `day` (cheap: without drawing the rest of the day)."""
        fevers = self._fevers.get(day)
        if fevers is None:
            fevers = self._draw_fevers(day)
            self._fevers[day] = fevers
            for old in [d for d in self._fevers if d < day - timedelta(days=_FEVER_DAYS_BACK + 1)]:
                del self._fevers[old]
        return fevers

    def fevers_running(self, t: datetime) -> list[Fever]:
        """Fevers that began before `t` and are not over by then (they last at most 30 h)."""
        today = t.astimezone(self.tz).date()
        return [
            f
            for back in range(_FEVER_DAYS_BACK, -1, -1)
            for f in self.fevers(today - timedelta(days=back))
            if f.onset <= t < f.end
        ]

    def effects(self, t: datetime) -> Effects | None:
        """What meals, activities and fevers do to the true vital signs at `t` (None: nothing)."""
        today = t.astimezone(self.tz).date()
        plan = self.day(today)
        parts: list[Effects] = []
        meal = sum(m.level(t) for m in plan.meals)
        if meal > 0:
            parts.append((_MEAL_HR * meal, 0.0, 0.0, 0.0, _MEAL_SBP * meal, _MEAL_DBP * meal))
        # Activities are far enough apart that only the latest can still show; and they end
        # by late evening, so the day before never reaches into today.
        latest = plan.activity_at(t)
        active = 0.0 if latest is None else latest.level(t)
        if active > 0:
            parts.append(
                (
                    _ACTIVITY_HR * active,
                    0.0,
                    _ACTIVITY_RR * active,
                    0.0,
                    _ACTIVITY_SBP * active,
                    _ACTIVITY_DBP * active,
                )
            )
        fever = 0.0
        if self.fever_rate:
            fever = sum(
                f.elevation(t)
                for back in range(_FEVER_DAYS_BACK + 1)
                for f in self.fevers(today - timedelta(days=back))
            )
        if fever > 0:
            parts.append(fever_effects(fever))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else add_effects(*parts)

    def spo2_dip(self, t: datetime) -> float:
        """How far the wearable's SpO2 reading falls at `t` because the sensor is moving."""
        latest = self.day(t.astimezone(self.tz).date()).activity_at(t)
        if latest is None or not latest.spo2_dip or t >= latest.end:
            return 0.0
        return latest.spo2_dip

    def _streams(self, day: date) -> list[np.random.Generator]:
        ss = np.random.SeedSequence([self._seed, _ROUTINE_STREAM, self._key_hash, day.toordinal()])
        # Separate streams: a change in one part (say the fever rate) leaves the others alone.
        return [np.random.default_rng(s) for s in ss.spawn(3)]

    def _draw(self, day: date) -> DayPlan:
        plan_rng, motion_rng, _ = self._streams(day)
        midnight = datetime.combine(day, time(0), tzinfo=self.tz)
        fevers = self.fevers(day)
        if not self.daily:
            return DayPlan(day, (), (midnight, midnight), (), fevers)
        meals = tuple(
            Meal(name, midnight + timedelta(hours=hour + plan_rng.uniform(-1, 1) * MEAL_JITTER_H))
            for name, hour in MEALS
        )
        wash_start = midnight + timedelta(hours=float(plan_rng.uniform(*WASH_START_H)))
        wash = (wash_start, wash_start + timedelta(seconds=float(plan_rng.uniform(*WASH_S))))
        activities: list[Activity] = []
        t = midnight + timedelta(hours=ADL_HOURS[0])
        stop = midnight + timedelta(hours=ADL_HOURS[1])
        while True:
            t += timedelta(minutes=float(plan_rng.uniform(*ADL_GAP_MIN)))
            if t >= stop:
                break
            kind = str(plan_rng.choice(DAILY_ADLS))
            dip = float(plan_rng.uniform(*_ARTEFACT_DIP)) if kind in _ARTEFACT_KINDS else 0.0
            if scheduled_in_bed(self.baseline, t, self.tz) or wash[0] <= t < wash[1]:
                continue
            seed = int(motion_rng.integers(2**63))
            activities.append(Activity(t, cast(AdlKind, kind), dip, self.placement, seed))
        return DayPlan(day, meals, wash, tuple(activities), fevers)

    def _draw_fevers(self, day: date) -> tuple[Fever, ...]:
        if self.fever_rate == 0:
            return ()
        rng = self._streams(day)[2]
        midnight = datetime.combine(day, time(0), tzinfo=self.tz)
        fevers = [
            Fever(
                onset=midnight + timedelta(seconds=float(rng.uniform(0, 86400))),
                rise_c=float(rng.uniform(*FEVER_RISE_C)),
                ramp_s=float(rng.uniform(*_FEVER_RAMP_S)),
                hold_s=float(rng.uniform(*_FEVER_HOLD_S)),
                recover_s=float(rng.uniform(*_FEVER_RECOVER_S)),
            )
            for _ in range(int(rng.poisson(self.fever_rate)))
        ]
        return tuple(sorted(fevers, key=lambda f: f.onset))


def _envelope(x: float, ramp: float, hold: float, recover: float) -> float:
    """0 before 0, up to 1 over `ramp`, held for `hold`, back to 0 over `recover`."""
    if x < 0:
        return 0.0
    if x < ramp:
        return x / ramp
    x -= ramp
    if x < hold:
        return 1.0
    x -= hold
    if x < recover:
        return 1.0 - x / recover
    return 0.0
