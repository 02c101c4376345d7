"""Tests for rules.baseline: learning per-day baselines, deviation rules, IDSA fever."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rules.baseline import (
    Baseline,
    BaselineState,
    DaySummary,
    baseline_step,
    robust_baseline,
)
from rules.baseline_config import BaselineConfig
from rules.config import with_overrides
from rules.errors import OverrideError
from rules.types import AlertCandidate, ResidentProfile, Source, Vital

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY0 = date(2026, 3, 1)
CFG = BaselineConfig()
RESIDENT = ResidentProfile(resident_id=7, site_id="site-a", unit_id="unit-1")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """Day `day` after DAY0 at a wall-clock time in the resident's zone, as a UTC instant."""
    return datetime.combine(DAY0 + timedelta(days=day), time(hour, minute), SHANGHAI).astimezone(
        UTC
    )


class Feed:
    """Drives baseline_step with a fake clock: `now` is each reading's time unless given."""

    def __init__(self, config: BaselineConfig = CFG) -> None:
        self.config = config
        self.state = BaselineState()
        self.out: list[AlertCandidate] = []

    def __call__(
        self,
        ts: datetime,
        metric: str,
        value: float,
        *,
        source: Source = "vitals",
        now: datetime | None = None,
    ) -> list[AlertCandidate]:
        self.state, candidates = baseline_step(
            self.state,
            Vital(ts, metric, value, source),
            profile=RESIDENT,
            now=ts if now is None else now,
            config=self.config,
        )
        self.out.extend(candidates)
        return candidates

    def night(
        self, day: int, metric: str, value: float, *, until: tuple[int, int] = (5, 0)
    ) -> list[AlertCandidate]:
        """A reading every 5 minutes from local 00:00 up to (not including) `until`."""
        got: list[AlertCandidate] = []
        t, end = local(day, 0), local(day, *until)
        while t < end:
            got.extend(self(t, metric, value))
            t += timedelta(minutes=5)
        return got

    def hourly_temp(self, days: range, value: float) -> None:
        for day in days:
            for hour in range(24):
                self(local(day, hour), "temp", value)


# --- the robust statistics -----------------------------------------------------------------


def days(*medians: float, flagged: tuple[float, ...] = ()) -> tuple[DaySummary, ...]:
    plain = [DaySummary(i, m, 30, False) for i, m in enumerate(medians)]
    marked = [DaySummary(len(medians) + i, m, 30, True) for i, m in enumerate(flagged)]
    return tuple(plain + marked)


ROBUST = [
    ("odd", days(60, 62, 61, 70, 59), Baseline(61, 1, 5)),
    ("even", days(60, 62, 64, 70), Baseline(63, 2, 4)),
    ("too-few", days(60, 64), None),
    ("flagged-left-out", days(60, 61, 62, flagged=(80, 82)), Baseline(61, 1, 3)),
    ("flagged-become-normal", days(60, 61, flagged=(80, 82, 84)), Baseline(80, 4, 5)),
]


@pytest.mark.parametrize(
    ("summaries", "expected"), [r[1:] for r in ROBUST], ids=[r[0] for r in ROBUST]
)
def test_median_and_mad_of_day_medians(
    summaries: tuple[DaySummary, ...], expected: Baseline | None
) -> None:
    assert robust_baseline(summaries, min_days=3) == expected


def test_day_median_comes_from_the_histogram() -> None:
    feed = Feed()
    values = [58.0] * 5 + [60.0] * 4 + [75.0] * 3
    for i, v in enumerate(values):
        feed(local(0, 1, i), "hr", v)
        feed(local(0, 1, i), "rr", 15.2 + i % 2)  # 15.0 and 16.0 at 0.5/min resolution
    for i in range(12):
        feed(local(0, 10, i), "temp", 36.43)  # binned to 0.05 °C
    feed(local(1, 0), "hr", 60)  # the next day closes this one
    [hr_day] = feed.state.hr.days
    assert (hr_day.day, hr_day.median, hr_day.n, hr_day.flagged) == (
        (DAY0).toordinal(),
        60.0,
        12,
        False,
    )
    assert feed.state.rr.days[0].median == 15.5
    assert feed.state.temp.days[0].median == pytest.approx(36.45)


def test_days_with_too_few_readings_do_not_count() -> None:
    feed = Feed()
    for day in range(4):
        for i in range(CFG.min_readings_per_day - 1):
            feed(local(day, 1, i), "hr", 60)
    feed(local(5, 1), "hr", 60)
    assert feed.state.hr.days == () and feed.state.baseline("hr") is None


def test_old_days_leave_the_window() -> None:
    feed = Feed()
    for day in range(3):
        feed.night(day, "hr", 60)
    feed(local(3, 1), "hr", 60)
    assert feed.state.baseline("hr") == Baseline(60, 0, 3)
    feed(local(11, 1), "hr", 60)  # a week away: those days are out of the window
    assert feed.state.hr.days == () and feed.state.baseline("hr") is None


# --- resting selection ---------------------------------------------------------------------

RESTING = [
    # (id, reading at local (h, m), bed occupancy readings [(h, m, occupied)], counted)
    ("02:00", (2, 0), [], True),
    ("00:00-start-inclusive", (0, 0), [], True),
    ("04:59", (4, 59), [], True),
    ("05:00-end-exclusive", (5, 0), [], False),
    ("noon", (12, 0), [], False),
    ("23:30", (23, 30), [], False),
    ("out-of-bed-10-min-before", (2, 0), [(1, 50, False)], False),
    ("out-of-bed-20-min-before", (2, 0), [(1, 40, False)], True),
    ("back-in-bed", (2, 0), [(1, 50, False), (1, 55, True)], True),
    ("in-bed", (2, 0), [(1, 55, True)], True),
]


@pytest.mark.parametrize(
    ("at", "occupancy", "counted"), [r[1:] for r in RESTING], ids=[r[0] for r in RESTING]
)
def test_resting_selection(
    at: tuple[int, int], occupancy: list[tuple[int, int, bool]], counted: bool
) -> None:
    feed = Feed()
    feed(local(0, 0, 0), "spo2", 97)  # not a tracked metric: ignored, opens nothing
    for hour, minute, occupied in occupancy:
        feed(local(0, hour, minute), "occupied", 1.0 if occupied else 0.0, source="bed")
    feed(local(0, *at), "hr", 62)
    feed(local(0, *at), "rr", 15)
    assert (feed.state.hr.n, feed.state.rr.n) == ((1, 1) if counted else (0, 0))


# --- deviation rules -----------------------------------------------------------------------

DEVIATION = [
    # (id, metric, five nights' values, the test night's value, raises)
    ("hr-up-15", "hr", [60, 61, 60, 61, 60], 75, True),
    ("hr-up-9-under-floor", "hr", [60, 61, 60, 61, 60], 69, False),
    ("hr-mad-wider-than-floor", "hr", [60, 66, 54, 63, 57], 73, False),  # limit 73.3
    ("hr-beyond-mad", "hr", [60, 66, 54, 63, 57], 74, True),
    ("rr-up-4", "rr", [14, 14, 15, 14, 14], 18, True),
    ("rr-up-2", "rr", [14, 14, 15, 14, 14], 16.5, False),
]


@pytest.mark.parametrize(
    ("metric", "nights", "tonight", "raises"),
    [r[1:] for r in DEVIATION],
    ids=[r[0] for r in DEVIATION],
)
def test_deviation_from_baseline(
    metric: str, nights: list[float], tonight: float, raises: bool
) -> None:
    feed = Feed()
    for day, value in enumerate(nights):
        feed.night(day, metric, value)
    got = feed.night(len(nights), metric, tonight)
    assert [c.action for c in got] == (["raise"] if raises else [])
    if raises:
        [alert] = got
        assert alert.rule_id == f"baseline.{metric}"
        assert alert.dedupe_key == f"baseline.{metric}:resident:7"
        assert alert.severity == "medium"
        # First evaluated once the night's readings span 2 h (00:00 to 02:00).
        assert alert.ts == local(len(nights), 2, 0)
        assert alert.values["observed"] == tonight
        assert alert.values["baseline_days"] == 5


def test_deviation_not_used_before_min_days() -> None:
    feed = Feed()
    feed.night(0, "hr", 60)
    feed.night(1, "hr", 60)
    assert feed.night(2, "hr", 85) == []  # only two days learnt
    assert feed.state.baseline("hr") is None
    got = feed.night(3, "hr", 85)  # days 0-2 (60, 60, 85): median 60
    assert [c.action for c in got] == ["raise"]


def test_deviation_must_be_sustained() -> None:
    feed = Feed()
    for day in range(5):
        feed.night(day, "hr", 60)
    feed.night(5, "hr", 80, until=(1, 0))  # one hour up, then back
    t = local(5, 1)
    while t < local(5, 5):
        feed(t, "hr", 60)
        t += timedelta(minutes=5)
    assert feed.out == []


def test_deviation_stays_open_then_clears() -> None:
    feed = Feed()
    for day in range(5):
        feed.night(day, "hr", 60)
    feed.night(5, "hr", 75)
    assert feed.night(6, "hr", 75) == []  # still open: no second raise
    assert feed.night(7, "hr", 68) == []  # inside the hysteresis band (limit 70 - 3)
    [cleared] = feed.night(8, "hr", 62)
    assert cleared.action == "clear" and cleared.ts == local(8, 2, 0)
    # The deviating nights were not learnt as normal (day 0 has left the 7-day window).
    flags = [d.flagged for d in feed.state.hr.days]
    assert flags == [False] * 4 + [True, True, True]
    assert feed.state.baseline("hr") == Baseline(60, 0, 4)


# --- fever ---------------------------------------------------------------------------------

FEVER = [
    # (id, baseline temp or None, readings [(minutes after 10:00, temp)], criterion or None)
    ("single-37.9", None, [(0, 37.9)], "single>37.8"),
    ("single-37.8-not-above", None, [(0, 37.8)], None),
    ("repeated-31-min-apart", None, [(0, 37.3), (31, 37.4)], "repeated>37.2"),
    ("repeated-too-close", None, [(0, 37.3), (10, 37.3), (20, 37.3)], None),
    ("repeated-beyond-12-h", None, [(0, 37.3), (13 * 60, 37.3)], None),
    ("repeated-at-37.2-not-above", None, [(0, 37.2), (60, 37.2)], None),
    ("baseline-plus-1.1", 36.2, [(0, 37.35)], "baseline+1.1"),
    ("no-baseline-yet", None, [(0, 37.35)], None),
    ("baseline-plus-1.0", 36.2, [(0, 37.25)], None),
]


@pytest.mark.parametrize(
    ("baseline", "readings", "criterion"), [r[1:] for r in FEVER], ids=[r[0] for r in FEVER]
)
def test_fever_criteria(
    baseline: float | None, readings: list[tuple[int, float]], criterion: str | None
) -> None:
    feed = Feed()
    if baseline is not None:
        feed.hourly_temp(range(3), baseline)
        assert feed.state.baseline("temp") is None
    start = local(3, 10)
    got = [c for m, v in readings for c in feed(start + timedelta(minutes=m), "temp", v)]
    if criterion is None:
        assert got == []
        return
    [alert] = got
    last = start + timedelta(minutes=readings[-1][0])
    assert (alert.rule_id, alert.action, alert.ts) == ("fever", "raise", last)
    assert alert.values["criterion"] == criterion
    assert alert.dedupe_key == "fever:resident:7" and alert.severity == "medium"
    assert ("baseline" in alert.values) == (baseline is not None)


def test_fever_update_and_clear() -> None:
    feed = Feed(with_overrides(CFG, {"min_readings_per_day": 1}))  # spot checks make the days
    feed.hourly_temp(range(3), 36.2)
    t = local(3, 10)
    [raised] = feed(t, "temp", 37.4)
    assert raised.values["criterion"] == "baseline+1.1"
    assert feed.state.fever.open
    # Each stronger criterion updates the open alert; the same one again does not.
    [repeated] = feed(t + timedelta(hours=1), "temp", 37.5)
    assert (repeated.action, repeated.values["criterion"]) == ("update", "repeated>37.2")
    assert feed(t + timedelta(hours=1, minutes=45), "temp", 37.6) == []
    [single] = feed(t + timedelta(hours=2), "temp", 38.1)
    assert (single.action, single.values["criterion"], single.values["peak"]) == (
        "update",
        "single>37.8",
        38.1,
    )
    # Afebrile for 24 h clears; a febrile reading on the way starts the 24 h again.
    assert feed(t + timedelta(hours=6), "temp", 36.6) == []
    assert feed(t + timedelta(hours=20), "temp", 37.3) == []
    assert feed(t + timedelta(hours=24), "temp", 36.5) == []
    assert feed(t + timedelta(hours=47), "temp", 36.5) == []
    assert feed.state.fever.open
    [cleared] = feed(t + timedelta(hours=48), "temp", 36.4)
    assert cleared.action == "clear"
    assert not feed.state.fever.open
    # The febrile day was not learnt as the resident's normal temperature.
    assert [d.flagged for d in feed.state.temp.days] == [False, False, False, True, True]


def test_late_temperature_from_a_closed_day_can_still_show_fever() -> None:
    feed = Feed()
    feed(local(1, 8), "temp", 36.5)
    before = feed.state.temp
    [alert] = feed(local(0, 23), "temp", 38.2, now=local(1, 8))
    assert alert.values["criterion"] == "single>37.8"
    assert feed.state.temp == before  # yesterday is closed: not relearnt


def test_readings_from_the_future_are_ignored() -> None:
    feed = Feed()
    feed(local(0, 12), "temp", 39.0, now=local(0, 10))
    assert feed.out == [] and feed.state == BaselineState()


# --- configuration -------------------------------------------------------------------------


def test_overrides() -> None:
    cfg = with_overrides(CFG, {"hr.min_rise": 8, "fever": {"single_c": 38.0}})
    assert (cfg.hr.min_rise, cfg.hr.mad_k, cfg.fever.single_c) == (8, 3.0, 38.0)


BAD = [
    ({"min_days": 9}, "<config>", "min_days must not exceed window_days"),
    ({"fever.single_c": 37.0}, "fever", "repeated_c must not exceed single_c"),
    ({"rest_start_hour": 22}, "<config>", "rest_start_hour must be before rest_end_hour"),
    ({"hr.min_rise": 0}, "hr.min_rise", "greater than 0"),
    ({"rr.severity": "loud"}, "rr.severity", "'medium'"),
    ({"fever.repeated_count": 1}, "fever.repeated_count", "greater than or equal to 2"),
]


@pytest.mark.parametrize(("overrides", "key", "message"), BAD, ids=[b[0].__repr__() for b in BAD])
def test_bad_overrides(overrides: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(OverrideError) as info:
        with_overrides(CFG, overrides)
    assert key in info.value.keys and message in str(info.value)


# --- size ----------------------------------------------------------------------------------


def test_state_stays_small_over_30_days() -> None:
    """A month of data (HR and RR every minute, temperature every 10 minutes, bed occupancy
    at night), with a fever and a deviation on the way: the state does not grow with it."""
    rng = random.Random(7)
    feed = Feed()
    sizes = []
    for day in range(30):
        ill = day in (20, 21)
        for minute in range(0, 24 * 60):
            t = local(day, 0) + timedelta(minutes=minute)
            night = minute < 5 * 60
            hr = rng.gauss(58 if night else 72, 4) + (18 if ill else 0)
            feed(t, "hr", round(hr))
            feed(t, "rr", round(rng.gauss(14 if night else 17, 1.5) * 2) / 2)
            if minute % 10 == 0:
                feed(t, "temp", round(rng.gauss(36.4, 0.2) + (1.6 if ill else 0), 1))
                if night:
                    feed(t, "occupied", 1.0 if rng.random() > 0.05 else 0.0, source="bed")
        sizes.append(len(pickle.dumps(feed.state)))
    rules = {c.rule_id for c in feed.out}
    assert {"fever", "baseline.hr"} <= rules
    assert max(sizes) < 8 * 1024, sizes
