"""Simulated physiology: plausible, deterministic, circadian, correlated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device_sim.physiology import (
    DEFAULT_TZ,
    FEVER_HR_PER_C,
    FEVER_RR_PER_C,
    BedReading,
    Effects,
    ResidentState,
    Vitals,
    add_effects,
    advance,
    bed_at,
    draw_baseline,
    fever_effects,
    new_resident,
    vitals_at,
)
from rules.vocabulary import RANGES, VITAL_SIGNS

NO_EFFECTS: Effects = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # nothing besides rest and sleep

# The ranges the ingest codec enforces: a simulated value outside them would be rejected.
PROTOCOL = {m: RANGES[m] for m in VITAL_SIGNS}
MIDNIGHT = datetime(2025, 3, 1, tzinfo=DEFAULT_TZ)

Series = list[tuple[datetime, Vitals, BedReading]]
Ward = list[Series]


def simulate(
    seed: int,
    *,
    residents: int = 20,
    hours: float = 24,
    step: timedelta = timedelta(minutes=2),
    start: datetime = MIDNIGHT,
    tz: tzinfo = DEFAULT_TZ,
) -> Ward:
    """Each resident's (time, vitals, bed) every `step`, one wearable and one bed sensor each."""
    rng = np.random.default_rng(seed)
    states = [new_resident(rng) for _ in range(residents)]
    out: Ward = [[] for _ in states]
    steps = int(timedelta(hours=hours) / step)
    for i, state in enumerate(states):
        for k in range(steps):
            t = start + k * step
            state, vitals = vitals_at(state, t, rng, tz)
            state, bed = bed_at(state, t, rng, tz)
            out[i].append((t, vitals, bed))
    return out


@pytest.fixture(scope="module")
def day() -> Ward:
    return simulate(seed=20250301)


@pytest.fixture(scope="module")
def three_days() -> Ward:
    return simulate(seed=7, hours=72, step=timedelta(minutes=5))


def test_vitals_stay_in_protocol_ranges_and_types_over_a_day(day: Ward) -> None:
    for series in day:
        for _, vitals, _ in series:
            assert set(vitals) == {*PROTOCOL, "on_o2"}
            assert vitals["on_o2"] is False
            for name, (low, high) in PROTOCOL.items():
                assert low <= vitals[name] <= high, (name, vitals)  # type: ignore[literal-required]
            for name in ("hr", "spo2", "rr", "sbp", "dbp"):
                assert type(vitals[name]) is int  # type: ignore[literal-required]
            assert type(vitals["temp"]) is float
            assert round(vitals["temp"], 1) == vitals["temp"]
            assert vitals["dbp"] < vitals["sbp"]


def test_vitals_are_realistic_for_resting_elderly(day: Ward) -> None:
    hr = np.array([v["hr"] for series in day for _, v, _ in series])
    spo2 = np.array([v["spo2"] for series in day for _, v, _ in series])
    temp = np.array([v["temp"] for series in day for _, v, _ in series])
    assert 60 <= hr.mean() <= 85
    assert hr.min() >= 40 and hr.max() <= 150
    assert spo2.min() >= 88 and np.median(spo2) >= 94
    assert temp.min() >= 35.5 and temp.max() <= 37.8


def test_bed_readings_have_heart_and_breathing_only_when_occupied(day: Ward) -> None:
    for series in day:
        for _, _, bed in series:
            assert 0.0 <= bed["movement"] <= 1.0
            if bed["occupied"]:
                assert 20 <= bed["hr"] <= 250 and 3 <= bed["rr"] <= 70
            else:
                assert "hr" not in bed and "rr" not in bed
                assert bed["movement"] == 0.0


def test_same_seed_gives_identical_sequences() -> None:
    first = simulate(seed=42, residents=3, hours=6)
    again = simulate(seed=42, residents=3, hours=6)
    other = simulate(seed=43, residents=3, hours=6)
    assert first == again
    assert first != other


def test_heart_rate_and_temperature_are_lower_at_night(day: Ward) -> None:
    night = [(v["hr"], v["temp"]) for s in day for t, v, _ in s if 1 <= t.hour < 5]
    daytime = [(v["hr"], v["temp"]) for s in day for t, v, _ in s if 9 <= t.hour < 12]
    night_hr, night_temp = np.mean(night, axis=0)
    day_hr, day_temp = np.mean(daytime, axis=0)
    assert 5 <= day_hr - night_hr <= 12
    assert 0.15 <= day_temp - night_temp <= 0.5


def at(series: Series, hour: int) -> list[bool]:
    return [bed["occupied"] for t, _, bed in series if t.hour == hour and t.minute == 0]


def test_in_bed_at_three_in_the_morning(three_days: Ward) -> None:
    occupied = [o for series in three_days for o in at(series, 3)]
    assert len(occupied) == 20 * 3
    # Mostly, not always: a resident may be on a short trip to the toilet.
    assert np.mean(occupied) >= 0.9


def test_mostly_up_at_three_in_the_afternoon(three_days: Ward) -> None:
    occupied = [o for series in three_days for o in at(series, 15)]
    assert len(occupied) == 20 * 3
    assert np.mean(occupied) <= 0.2


def test_routine_night_in_bed_nap_after_lunch_up_otherwise(day: Ward) -> None:
    def share(hours: range) -> float:
        return float(np.mean([b["occupied"] for s in day for t, _, b in s if t.hour in hours]))

    assert share(range(0, 6)) > 0.85
    assert share(range(8, 12)) < 0.25 and share(range(16, 21)) < 0.25
    assert share(range(12, 15)) > 0.25  # the afternoon nap


def test_consecutive_values_are_correlated_not_independent() -> None:
    rng = np.random.default_rng(3)
    state = new_resident(rng)
    hr, sbp = [], []
    for k in range(720):  # two hours every 10 s, daytime
        state, vitals = vitals_at(state, MIDNIGHT + timedelta(hours=9, seconds=10 * k), rng)
        hr.append(vitals["hr"])
        sbp.append(vitals["sbp"])
    for values in (hr, sbp):
        x = np.asarray(values, dtype=float)
        assert np.corrcoef(x[:-1], x[1:])[0, 1] > 0.5


def test_local_time_decides_day_and_night() -> None:
    three_utc = datetime(2025, 3, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    before = three_utc - timedelta(hours=1)
    in_utc = simulate(seed=5, hours=1.1, start=before, step=timedelta(minutes=5), tz=UTC)
    in_shanghai = simulate(seed=5, hours=1.1, start=before, step=timedelta(minutes=5))
    assert np.mean([s[-1][2]["occupied"] for s in in_utc]) >= 0.9
    assert np.mean([s[-1][2]["occupied"] for s in in_shanghai]) <= 0.2


def test_baselines_fall_in_their_ranges() -> None:
    rng = np.random.default_rng(11)
    baselines = [draw_baseline(rng) for _ in range(500)]
    for b in baselines:
        assert 55 <= b.hr <= 95 and 95 <= b.spo2 <= 98 and 14 <= b.rr <= 18
        assert 36.3 <= b.temp <= 36.9 and 115 <= b.sbp <= 140 and 70 <= b.dbp <= 85
        assert 21.5 <= b.bedtime_h <= 22.5 and 6.0 <= b.wake_h <= 7.0
        assert b.nap_start_h < b.nap_end_h < 15.0
    assert 70 <= np.mean([b.hr for b in baselines]) <= 74


def test_time_must_be_aware_and_move_forward() -> None:
    rng = np.random.default_rng(0)
    state = advance(new_resident(rng), MIDNIGHT, rng)
    with pytest.raises(ValueError, match="timezone-aware"):
        advance(state, datetime(2025, 3, 1, 1, 0), rng)  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError, match="backwards"):
        advance(state, MIDNIGHT - timedelta(seconds=1), rng)


def test_two_devices_reading_at_the_same_moment_see_the_same_resident() -> None:
    rng = np.random.default_rng(1)
    state = advance(new_resident(rng), MIDNIGHT + timedelta(hours=3), rng)
    again = advance(state, MIDNIGHT + timedelta(hours=3), rng)
    assert again is state


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    start_minute=st.integers(min_value=0, max_value=7 * 24 * 60),
    step_s=st.sampled_from([1, 10, 60, 600, 3600]),
)
def test_any_seed_start_and_step_stays_in_range(seed: int, start_minute: int, step_s: int) -> None:
    rng = np.random.default_rng(seed)
    state: ResidentState = new_resident(rng)
    start = MIDNIGHT + timedelta(minutes=start_minute)
    for k in range(60):
        t = start + timedelta(seconds=step_s * k)
        state, vitals = vitals_at(state, t, rng)
        state, bed = bed_at(state, t, rng)
        for name, (low, high) in PROTOCOL.items():
            assert low <= vitals[name] <= high  # type: ignore[literal-required]
        assert 0.0 <= bed["movement"] <= 1.0


def _day_with(effects: Effects | None, seed: int = 3) -> list[tuple[Vitals, BedReading]]:
    """A day every 5 minutes; the same draws whatever the effects."""
    rng = np.random.default_rng(seed)
    state = new_resident(rng)
    out = []
    for k in range(288):
        t = MIDNIGHT + timedelta(minutes=5 * k)
        state, vitals = vitals_at(state, t, rng, effects=effects)
        state, bed = bed_at(state, t, rng, effects=effects)
        out.append((vitals, bed))
    return out


def test_no_effects_and_zero_effects_read_the_same() -> None:
    assert _day_with(None) == _day_with(NO_EFFECTS)


def test_heart_and_breathing_rate_rise_with_a_fever() -> None:
    plain, febrile = _day_with(None), _day_with(fever_effects(1.5))
    for (v0, b0), (v1, b1) in zip(plain, febrile, strict=True):
        # Rounding to whole beats and breaths: within one of the exact shift.
        assert abs((v1["hr"] - v0["hr"]) - FEVER_HR_PER_C * 1.5) <= 1
        assert abs((v1["rr"] - v0["rr"]) - FEVER_RR_PER_C * 1.5) <= 1
        assert v1["temp"] - v0["temp"] == pytest.approx(1.5, abs=0.11)
        assert (v1["spo2"], v1["sbp"], v1["dbp"]) == (v0["spo2"], v0["sbp"], v0["dbp"])
        assert b1["occupied"] == b0["occupied"]
        if b0["occupied"]:  # the bed sensor feels it too
            assert abs((b1["hr"] - b0["hr"]) - FEVER_HR_PER_C * 1.5) <= 1
            assert abs((b1["rr"] - b0["rr"]) - FEVER_RR_PER_C * 1.5) <= 1


def test_fever_effects_and_their_sum() -> None:
    assert fever_effects(-1.0) == NO_EFFECTS  # a fever does not cool
    assert fever_effects(2.0) == (20.0, 0.0, 4.0, 2.0, 0.0, 0.0)
    assert add_effects(fever_effects(1.0), (6.0, 0.0, 0.0, 0.0, -7.0, -3.0)) == (
        16.0,
        0.0,
        2.0,
        1.0,
        -7.0,
        -3.0,
    )
