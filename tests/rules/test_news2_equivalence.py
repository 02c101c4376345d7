"""The engine's fast NEWS2 path scores exactly as the straightforward one.

The oracle below is the resting median as first written (rules/news2/continuous.py before it
was made fast): a history rebuilt at every reading, the view recomputed at every re-score, and
news2_step run at every re-score. Random device streams (motion, gaps, late and out-of-order
readings, manual rounds, other configurations) go through both; the alerts, the NEWS2 state
and the stream state must be the same after every observation and tick.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.engine import Engine, ResidentRules, RulesConfig, _only_low
from rules.news2 import (
    DeviceHistory,
    News2Config,
    News2State,
    note_motion,
    note_reading,
    resting_view_until,
)
from rules.news2.chart import Parameter
from rules.news2.continuous import DEVICE_SOURCES, Interval
from rules.news2.rule import news2_step
from rules.types import AlertCandidate, Motion, Observation, Source, Vital
from tests.rules.conftest import local, profile

T0 = local(10)
RID = 7

# --- the oracle: the resting median as first written -------------------------------------------


def _ts(reading: Vital) -> datetime:
    return reading.ts


def _keep_s(parameter: Parameter, config: News2Config) -> float:
    return max(config.continuous.window_s, config.max_age_s.for_parameter(parameter))


def ref_note_reading(history: DeviceHistory, vital: Vital, *, config: News2Config) -> DeviceHistory:
    cont = config.continuous
    if vital.source not in DEVICE_SOURCES or vital.metric not in cont.parameters:
        return history
    parameter: Parameter = vital.metric
    same = history.readings.get(parameter, ())
    if not same or vital.ts >= same[-1].ts:
        kept = (*same, vital)
    else:
        at = bisect.bisect_right(same, vital.ts, key=_ts)
        kept = (*same[:at], vital, *same[at:])
    horizon = kept[-1].ts - timedelta(seconds=_keep_s(parameter, config))
    first = max(bisect.bisect_left(kept, horizon, key=_ts), len(kept) - cont.max_readings)
    return replace(history, readings={**history.readings, parameter: kept[first:]})


def ref_note_motion(
    history: DeviceHistory, start: datetime, end: datetime, *, config: News2Config
) -> DeviceHistory:
    recovery = timedelta(seconds=config.continuous.motion_recovery_s)
    merged: list[Interval] = []
    for s, e in sorted([*history.moving, (start, end)]):
        if merged and s <= merged[-1][1] + recovery:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    longest = max((_keep_s(p, config) for p in config.continuous.motion_parameters), default=0.0)
    horizon = merged[-1][1] - timedelta(seconds=longest) - recovery
    return replace(history, moving=tuple(iv for iv in merged if iv[1] >= horizon))


def ref_resting_view_until(
    latest: Mapping[str, Vital], history: DeviceHistory, *, now: datetime, config: News2Config
) -> tuple[dict[str, Vital], datetime | None]:
    cont = config.continuous
    view = dict(latest)
    until: datetime | None = None
    if cont.window_s == 0 and cont.motion_recovery_s == 0:
        return view, until
    recovery = timedelta(seconds=cont.motion_recovery_s)
    moving = history.moving if cont.motion_recovery_s > 0 else ()
    for parameter in cont.parameters:
        current = latest.get(parameter)
        readings = history.readings.get(parameter)
        if current is None or current.source not in DEVICE_SOURCES or not readings:
            continue
        oldest = now - timedelta(seconds=config.max_age_s.for_parameter(parameter))
        inside = readings[bisect.bisect_left(readings, oldest, key=_ts) :]
        if not inside:
            continue
        expires = inside[0].ts + (now - oldest)
        until = expires if until is None else min(until, expires)
        counted: Sequence[Vital] = inside
        if moving and parameter in cont.motion_parameters:
            resting = [r for r in inside if not any(s <= r.ts <= e + recovery for s, e in moving)]
            counted = resting or inside
        newest = counted[-1]
        start = newest.ts - timedelta(seconds=cont.window_s)
        values = [r.value for r in counted[bisect.bisect_right(counted, start, key=_ts) :]]
        value = float(statistics.median(values)) if values else newest.value
        if value != newest.value:
            view[parameter] = replace(newest, value=value)
        elif newest is not current:
            view[parameter] = newest
    return view, until


def _ref_news2(self: Engine, r: ResidentRules, *, now: datetime) -> list[AlertCandidate]:
    r.news2_at = now
    scored = ref_resting_view_until(r.latest, r.news2_streams, now=now, config=r.config.news2)[0]
    r.news2, found = news2_step(r.news2, scored, profile=r.profile, now=now, config=r.config.news2)
    return found


@contextmanager
def reference_engine() -> Iterator[None]:
    """While open, Engine keeps and scores the streams as the oracle does."""
    with (
        mock.patch("rules.engine.note_reading", ref_note_reading),
        mock.patch("rules.engine.note_news2_motion", ref_note_motion),
        mock.patch.object(Engine, "_news2", _ref_news2),
    ):
        yield


# --- random streams ------------------------------------------------------------------------------

# Values on and around the chart's band edges, so that medians cross them; the last is a
# resident at rest.
VALUES: dict[str, list[float]] = {
    "hr": [38, 40, 41, 50, 51, 72, 90, 91, 110, 111, 125, 130, 131, 140, 90.5, 110.4, 76],
    "rr": [7, 8, 9, 11, 12, 16, 20, 21, 24, 25, 30, 20.5, 18],
    "spo2": [82, 84, 86, 88, 90, 91, 92, 93, 94, 95, 96, 99, 95.5, 97],
    "sbp": [85, 95, 105, 225, 135],
    "temp": [34.9, 35.5, 38.05, 38.5, 39.2, 36.7],
    "on_o2": [1, 0],
    "acvpu": [2, 0],
}
ROUND = ("sbp", "temp", "acvpu", "on_o2")
REPORT = ("hr", "rr", "spo2")
WORN = ("vitals", "w1")
SOURCES: list[Source] = ["vitals", "vitals", "vitals", "bed", "manual"]
OFFSETS = [0, 0, 0, 0, -1, -45, -250, -700]  # late, out of order, out of date

vital_events = st.tuples(
    st.just("vital"),
    st.sampled_from(sorted(VALUES)),
    st.integers(0, 99),  # which value (modulo the metric's list)
    st.sampled_from(SOURCES),
    st.sampled_from(OFFSETS),
)
at_rest = st.tuples(  # the resident back at rest, or a round of everything else
    st.just("vital"),
    st.sampled_from(sorted(VALUES)),
    st.just(-1),
    st.sampled_from(SOURCES),
    st.sampled_from(OFFSETS),
)
events = st.lists(
    st.one_of(
        vital_events,
        vital_events,
        at_rest,
        at_rest,
        st.tuples(st.just("motion"), st.booleans(), st.sampled_from([0, -20, -400])),
        st.tuples(st.just("advance"), st.sampled_from([1, 3, 5, 20, 60, 61, 299, 300, 601, 3600])),
        st.tuples(st.just("tick")),
        st.tuples(st.just("round")),
        st.tuples(st.just("report")),
        st.tuples(st.just("report")),
    ),
    min_size=20,
    max_size=120,
)
OVERRIDES: list[dict[str, Any]] = [
    {},
    {},
    {"news2.continuous.max_readings": 3},
    {"news2.continuous.motion_recovery_s": 0},
    {"news2.continuous.window_s": 0},
    {"news2.continuous.window_s": 0, "news2.continuous.motion_recovery_s": 0},
    {"news2.continuous.window_s": 600, "news2.max_age_s.hr": 120, "news2.dip_tolerance_s": 0},
]


def _observation(event: tuple[Any, ...], clock: datetime) -> Observation:
    if event[0] == "motion":
        _, active, offset = event
        swing = 0.4 if active else 0.0
        samples = tuple(1.0 + (swing if i % 2 else -swing) for i in range(100))
        return Motion(clock + timedelta(seconds=offset), "w1", 50.0, samples, samples, samples)
    _, metric, index, source, offset = event
    values = VALUES[metric]
    device = {"vitals": "w1", "bed": "b1"}.get(source)
    return Vital(
        clock + timedelta(seconds=offset),
        metric,
        float(values[index % len(values)]),
        source,
        device,
    )


def _play(
    stream: list[tuple[Any, ...]], scale: int, overrides: dict[str, Any], *, check: bool = False
) -> list[Any]:
    """Every step's alerts and the resident's NEWS2 and stream state after it. `check`: also
    compare, after every step, the view the engine would score now with the oracle's."""
    engine = Engine(RulesConfig())
    engine.set_resident(profile(resident_id=RID, news2_scale=scale), overrides or None)
    r = engine.residents[RID]
    clock = T0
    trace: list[Any] = []

    def step(event: tuple[Any, ...], found: list[AlertCandidate]) -> None:
        trace.append((event, found, r.news2, r.news2_streams))
        if check:
            view = engine._resting_view(r, now=clock)
            cfg = r.config.news2
            assert (
                view == ref_resting_view_until(r.latest, r.news2_streams, now=clock, config=cfg)[0]
            )

    for event in stream:
        if event[0] == "advance":  # ticking every 5 s, as the detector does, up to a gap
            end = clock + timedelta(seconds=event[1])
            while event[1] <= 600 and clock + timedelta(seconds=5) < end:
                clock += timedelta(seconds=5)
                step(event, engine.tick(now=clock))
            clock = end
            continue
        if event[0] == "tick":
            found = engine.tick(now=clock)
        elif event[0] in ("round", "report"):  # at rest: a caregiver's round, a wearable's
            found = []
            for metric in ROUND if event[0] == "round" else REPORT:
                value = VALUES[metric][-1]
                vital = Vital(clock, metric, value, *(("manual",) if metric in ROUND else WORN))
                found += engine.observe(RID, vital, now=clock)
        else:
            found = engine.observe(RID, _observation(event, clock), now=clock)
        step(event, found)
    return trace


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events, st.sampled_from([1, 2]), st.sampled_from(range(len(OVERRIDES))))
def test_engine_scores_as_the_oracle(stream: list[tuple[Any, ...]], scale: int, which: int) -> None:
    with reference_engine():
        expected = _play(stream, scale, OVERRIDES[which])
    assert _play(stream, scale, OVERRIDES[which]) == expected
    # The view kept between re-scores is the oracle's at every step (a stale one may score
    # the same by chance: compared directly).
    assert _play(stream, scale, OVERRIDES[which], check=True) == expected


@settings(max_examples=500, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(VALUES)),
        st.tuples(st.integers(0, 99), st.sampled_from(SOURCES), st.sampled_from([0, 300, 3000])),
    ),
    st.sampled_from([1, 2]),
)
def test_what_the_engine_does_not_score_stays_idle(
    values: dict[str, tuple[int, Source, int]], scale: int
) -> None:
    # The engine skips news2_step for an idle rule when the values can only score "low" (or
    # prove nothing above it): news2_step must then have nothing to say either.
    now = T0 + timedelta(hours=4)
    scored = {
        metric: Vital(
            now - timedelta(seconds=age), metric, VALUES[metric][i % len(VALUES[metric])], source
        )
        for metric, (i, source, age) in values.items()
    }
    config = RulesConfig().news2
    resident = profile(news2_scale=scale)
    step = news2_step(News2State(), scored, profile=resident, now=now, config=config)
    if _only_low(scored, resident.news2_scale, now):
        assert step == (News2State(), [])


def test_the_streams_reach_every_kind_of_step() -> None:
    # Not a vacuous comparison: a deterioration with motion and a late reading, through the
    # oracle, raises, escalates and clears, so both the idle and the open paths are compared.
    stream: list[tuple[Any, ...]] = []
    for minute in range(40):
        bad = 10 <= minute < 20
        stream.append(("motion", minute % 7 == 0, 0))
        if minute % 10 == 0:  # a round: the score is complete, so it can clear
            for metric in ("sbp", "temp", "acvpu", "on_o2"):
                stream.append(("vital", metric, -1, "manual", 0))
        for metric, good, worse in (("hr", -1, 13), ("rr", -1, 10), ("spo2", -1, 4)):
            stream.append(("vital", metric, worse if bad else good, "vitals", 0))
        stream.append(("vital", "spo2", 9, "vitals", -45))
        for _ in range(12):
            stream += [("advance", 5), ("tick",)]
    with reference_engine():
        expected = _play(stream, 1, {})
    actions = [c.action for _, found, _, _ in expected for c in found if c.rule_id == "news2"]
    assert "raise" in actions and "clear" in actions
    assert any(state != News2State() for _, _, state, _ in expected)
    assert _play(stream, 1, {}) == expected


# --- the pure parts ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(events, st.sampled_from(range(len(OVERRIDES))), st.integers(-700, 700))
def test_history_and_view_as_the_oracle(
    stream: list[tuple[Any, ...]], which: int, later_s: int
) -> None:
    config = RulesConfig().news2
    if OVERRIDES[which]:
        engine = Engine(RulesConfig())
        config = engine.set_resident(profile(), OVERRIDES[which]).config.news2
    history = expected = DeviceHistory()
    latest: dict[str, Vital] = {}
    clock = T0
    for event in stream:
        if event[0] == "advance":
            clock += timedelta(seconds=event[1])
        elif event[0] == "motion":
            obs = _observation(event, clock)
            end = obs.ts + timedelta(seconds=2)
            history = note_motion(history, obs.ts, end, config=config)
            expected = ref_note_motion(expected, obs.ts, end, config=config)
        elif event[0] == "vital":
            vital = _observation(event, clock)
            assert isinstance(vital, Vital)
            history = note_reading(history, vital, config=config)
            expected = ref_note_reading(expected, vital, config=config)
            if vital.metric not in latest or vital.ts >= latest[vital.metric].ts:
                latest[vital.metric] = vital
        assert history == expected
        now = clock + timedelta(seconds=later_s)
        assert resting_view_until(latest, history, now=now, config=config) == (
            ref_resting_view_until(latest, expected, now=now, config=config)
        )
