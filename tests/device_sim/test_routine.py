"""A resident's day: meals, the morning wash, everyday activities and fevers, drawn per day
from the seed, and what each does to the vital signs."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pytest

from device_sim.motion import ADL_KINDS
from device_sim.physiology import DEFAULT_TZ, fever_effects, new_resident, scheduled_in_bed
from device_sim.routine import (
    FEVER_RISE_C,
    MEAL_JITTER_H,
    MEALS,
    WASH_S,
    WASH_START_H,
    Routine,
)
from device_sim.scenarios.stream import ADL_GAP_MIN, ADL_HOURS
from rules.engine import RulesConfig

DAY = date(2025, 3, 4)
BASELINE = new_resident(np.random.default_rng(5)).baseline


def routine(**kwargs: object) -> Routine:
    options: dict[str, object] = {"seed": 9}
    options.update(kwargs)
    return Routine("r1", BASELINE, **options)  # type: ignore[arg-type]


def local(hours: float, day: date = DAY) -> datetime:
    return datetime.combine(day, time(0), tzinfo=DEFAULT_TZ) + timedelta(hours=hours)


def test_a_day_is_the_same_whenever_it_is_asked_for() -> None:
    one, two = routine(), routine()
    later_first = [two.day(DAY + timedelta(days=1)), two.day(DAY)]
    assert one.day(DAY).meals == later_first[1].meals
    assert one.day(DAY).wash == later_first[1].wash
    assert [(a.start, a.kind) for a in one.day(DAY).activities] == [
        (a.start, a.kind) for a in later_first[1].activities
    ]
    assert np.array_equal(
        one.day(DAY).activities[0].recording.samples,
        later_first[1].activities[0].recording.samples,
    )
    other = Routine("r2", BASELINE, seed=9)
    assert other.day(DAY).wash != one.day(DAY).wash  # each resident their own


@pytest.mark.parametrize("offset", range(5), ids=lambda d: f"day{d}")
def test_meals_wash_and_activities_keep_to_the_routine(offset: int) -> None:
    day = DAY + timedelta(days=offset)
    plan = routine().day(day)
    assert [m.name for m in plan.meals] == [name for name, _ in MEALS]
    for meal, (_, hour) in zip(plan.meals, MEALS, strict=True):
        assert abs(meal.start - local(hour, day)) <= timedelta(hours=MEAL_JITTER_H)
    start, end = plan.wash
    assert local(WASH_START_H[0], day) <= start <= local(WASH_START_H[1], day)
    assert WASH_S[0] <= (end - start).total_seconds() <= WASH_S[1]
    # Not long enough for the wear-off rule to page.
    assert (end - start).total_seconds() < RulesConfig().devices.wear_off_grace_s
    assert plan.activities
    for a, b in zip(plan.activities, plan.activities[1:], strict=False):
        assert b.start - a.start >= timedelta(minutes=ADL_GAP_MIN[0])
    for a in plan.activities:
        assert local(ADL_HOURS[0], day) < a.start < local(ADL_HOURS[1], day)
        assert not scheduled_in_bed(BASELINE, a.start)  # not at night, not in the nap
        assert not start <= a.start < end
        assert a.kind in ADL_KINDS and a.recording.placement == "waist"
        assert a.end > a.start


def test_nothing_at_night() -> None:
    r = routine(fever_rate=0.0)
    assert r.effects(local(3.0)) is None
    assert r.spo2_dip(local(3.0)) == 0.0


def test_a_meal_raises_the_heart_rate_and_lowers_blood_pressure() -> None:
    r = routine()
    checked = 0
    for d in range(5):
        plan = r.day(DAY + timedelta(days=d))
        for meal in plan.meals:
            t = meal.start + timedelta(minutes=30)  # held at its full effect
            latest = plan.activity_at(t)
            if latest is not None and latest.level(t) > 0:
                continue  # an activity on top
            effects = r.effects(t)
            assert effects is not None
            hr, spo2, rr, temp, sbp, dbp = effects
            assert (hr, sbp, dbp) == pytest.approx((6.0, -7.0, -3.0))
            assert spo2 == rr == temp == 0.0
            checked += 1
    assert checked >= 10


def test_activity_works_heart_and_lungs_and_moving_spoils_the_spo2_reading() -> None:
    r = routine()
    walks = [
        a for d in range(5) for a in r.day(DAY + timedelta(days=d)).activities if a.kind == "walk"
    ]
    assert walks
    for walk in walks:
        during = walk.start + timedelta(seconds=walk.recording.duration_s / 2)
        day = r.day(during.astimezone(DEFAULT_TZ).date())
        latest = day.activity_at(during)
        assert latest is not None and (latest.start, latest.kind) == (walk.start, walk.kind)
        effects = r.effects(during)
        assert effects is not None
        meal = sum(m.level(during) for m in day.meals)
        assert effects[0] == pytest.approx(15.0 + 6.0 * meal)  # walking counts fully
        assert effects[2] == pytest.approx(4.0)
        assert 3.0 <= walk.spo2_dip <= 9.0 and r.spo2_dip(during) == walk.spo2_dip
        # The dip lasts as long as the sensor moves; the heart takes minutes to settle.
        after = walk.end + timedelta(seconds=60)
        assert r.spo2_dip(after) == 0.0
        later = r.effects(after)
        assert (
            later is not None and 0 < later[0] - 6.0 * sum(m.level(after) for m in day.meals) < 15.0
        )
    quiet = [
        a
        for d in range(5)
        for a in r.day(DAY + timedelta(days=d)).activities
        if a.kind in ("sit_down", "sit_down_hard", "lie_down_slow")
    ]
    assert quiet and all(a.spo2_dip == 0.0 for a in quiet)


def test_a_fever_is_temperature_with_heart_and_breathing_rate() -> None:
    r = routine(daily=False, fever_rate=3.0)
    fevers = [f for d in range(3) for f in r.fevers(DAY + timedelta(days=d))]
    assert fevers
    assert r.day(DAY).fevers == r.fevers(DAY) and r.day(DAY).meals == ()
    for f in fevers:
        assert FEVER_RISE_C[0] <= f.rise_c <= FEVER_RISE_C[1]
        peak = f.onset + timedelta(seconds=f.ramp_s + f.hold_s / 2)
        assert f.elevation(peak) == f.rise_c
        assert f in r.fevers_running(peak)
        assert f.elevation(f.onset - timedelta(seconds=1)) == 0.0
        assert f.elevation(f.end) == pytest.approx(0.0, abs=1e-6)  # to the microsecond
        total = sum(g.elevation(peak) for g in r.fevers_running(peak))
        assert r.effects(peak) == pytest.approx(fever_effects(total))
    assert routine(daily=False).effects(fevers[0].onset + timedelta(hours=3)) is None


def test_fever_rate_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="fever_rate"):
        routine(fever_rate=-1.0)
