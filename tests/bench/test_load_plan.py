"""The load test's pure parts: steps, fallers, window counting and the verdict."""

from __future__ import annotations

import itertools

import pytest

from bench.load_plan import (
    SITE,
    StepVerdict,
    excess_messages,
    fall_offsets,
    in_window,
    lost_messages,
    make_steps,
    max_residents_ok,
    parse_steps,
    phase,
    pick_fallers,
    publishers_for,
    site_names,
    site_of,
    step_problems,
    window_quantile,
)


def test_steps_are_cumulative_increments() -> None:
    steps = parse_steps("500,1000,2_000,5000")
    assert [s.residents for s in steps] == [500, 1000, 2000, 5000]
    assert [(s.new.start, s.new.stop) for s in steps] == [
        (0, 500),
        (500, 1000),
        (1000, 2000),
        (2000, 5000),
    ]
    assert [s.number for s in steps] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "sizes",
    [[], [0], [500, 500], [1000, 500], [-1, 5]],
    ids=["none", "zero", "flat", "down", "neg"],
)
def test_bad_steps_are_refused(sizes: list[int]) -> None:
    with pytest.raises(ValueError):
        make_steps(sizes)


def test_bad_step_text_is_refused() -> None:
    with pytest.raises(ValueError, match="comma-separated"):
        parse_steps("500,lots")


def test_phases_spread_every_prefix_evenly() -> None:
    for n in (10, 100, 1000):
        slots = sorted(phase(i) for i in range(n))
        assert all(0 <= p < 1 for p in slots)
        gaps = [b - a for a, b in itertools.pairwise(slots)]
        assert max(gaps) < 3 / n  # no burst, no hole: the load stays smooth as devices join


def test_publishers_for_rounds_up() -> None:
    assert [publishers_for(n, 2500) for n in (1, 2500, 2501, 6000)] == [1, 1, 2, 3]


def test_fallers_are_distinct_streaming_and_new() -> None:
    steps = make_steps([50, 100])
    first = pick_fallers(steps[0], 20, (), seed=1)
    second = pick_fallers(steps[1], 30, first, seed=1)
    assert len(set(first)) == 20 and all(i < 50 for i in first)
    assert len(set(second)) == 30 and all(i < 100 for i in second)
    assert not set(first) & set(second)
    assert pick_fallers(steps[0], 20, (), seed=1) == first  # reproducible


def test_more_falls_than_residents_is_refused() -> None:
    with pytest.raises(ValueError, match="residents left"):
        pick_fallers(make_steps([10])[0], 11, (), seed=1)


def test_fall_offsets_spread_inside_the_window_before_its_tail() -> None:
    offsets = fall_offsets(4, 100.0, tail_s=20.0)
    assert offsets == [10.0, 30.0, 50.0, 70.0]
    assert fall_offsets(0, 100.0, 20.0) == []


def test_counts_in_window_are_by_stream_and_second() -> None:
    counts = {("vitals", 9): 5, ("vitals", 10): 7, ("vitals", 11): 3, ("bed", 10): 2}
    assert in_window(counts, "vitals", 10, 12) == 10
    assert in_window(counts, "bed", 10, 11) == 2
    assert in_window(counts, "status", 0, 100) == 0


def test_lost_is_acked_minus_stored_per_stream() -> None:
    acked = {"vitals": 100, "bed": 100, "event": 3}
    stored = {"vitals": 98, "bed": 100, "event": 3, "status": 0}
    assert lost_messages(acked, stored) == {"bed": 0, "event": 0, "status": 0, "vitals": 2}
    assert excess_messages(acked, stored) == 0
    assert excess_messages({"bed": 1}, {"bed": 2}) == 1


def _ok(residents: int, **changes: object) -> StepVerdict:
    fields: dict[str, object] = {
        "residents": residents,
        "alert_p99_ms": 400.0,
        "lost_readings": 0,
        "lost_alerts": 0,
        "problems": [],
    }
    fields.update(changes)
    return StepVerdict(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([_ok(500), _ok(1000), _ok(2000), _ok(5000)], 5000),
        ([_ok(500), _ok(1000), _ok(2000), _ok(5000, alert_p99_ms=1000.0)], 2000),
        ([_ok(500), _ok(1000, lost_readings=1), _ok(2000)], 500),
        ([_ok(500), _ok(1000, lost_alerts=1)], 500),
        ([_ok(500), _ok(1000, problems=["publishers could not keep up"])], 500),
        ([_ok(500, alert_p99_ms=None), _ok(1000)], None),
        ([_ok(500, alert_p99_ms=1500.0), _ok(1000)], None),
        ([], None),
    ],
    ids=[
        "all",
        "p99-at-limit",
        "lost-reading",
        "lost-alert",
        "problem",
        "no-p99",
        "first-slow",
        "none",
    ],
)
def test_max_residents_ok(verdicts: list[StepVerdict], expected: int | None) -> None:
    assert max_residents_ok(verdicts) == expected


def test_reasons_say_why_a_step_failed() -> None:
    v = _ok(2000, alert_p99_ms=1200.0, lost_readings=3, lost_alerts=1, problems=["busy"])
    assert not v.ok
    assert v.reasons() == [
        "busy",
        "alert p99 1,200 ms ≥ 1,000 ms",
        "3 acknowledged messages not stored",
        "1 falls never paged",
    ]
    assert _ok(2000).reasons() == []


def test_step_problems() -> None:
    quiet = {
        "lag_max_s": 0.1,
        "background_cores": 0.1,
        "background_processes": "none seen",
        "dead": [],
        "excess": 0,
    }
    assert step_problems(late=0, on_time=1000, **quiet) == []  # type: ignore[arg-type]
    assert step_problems(late=10, on_time=990, **quiet) == []  # type: ignore[arg-type]
    behind = step_problems(late=11, on_time=989, **quiet)  # type: ignore[arg-type]
    assert len(behind) == 1 and "1 Hz schedule" in behind[0]
    assert "nothing was published" in step_problems(late=0, on_time=0, **quiet)[0]  # type: ignore[arg-type]
    busy = step_problems(
        late=0,
        on_time=10,
        lag_max_s=0.0,
        background_cores=0.8,
        background_processes="pytest (41) 0.70",
        dead=["detect"],
        excess=2,
    )
    assert busy[0] == "detect died"
    assert "busy with other work" in busy[1] and "busiest: pytest (41) 0.70" in busy[1]
    assert "more messages stored" in busy[2]


def test_window_quantile_is_of_the_difference() -> None:
    before = [(0.1, 100.0), (1.0, 100.0), (float("inf"), 100.0)]  # 100 fast before the window
    after = [(0.1, 100.0), (1.0, 200.0), (float("inf"), 200.0)]  # then 100 between 0.1 and 1
    q = window_quantile(before, after, 0.5)
    assert q is not None and 0.1 < q <= 1.0
    assert window_quantile(after, after, 0.99) is None
    assert window_quantile([], [], 0.99) is None


def test_residents_take_the_sites_in_turn() -> None:
    assert site_names(1) == [SITE]
    sites = site_names(2)
    assert sites == [f"{SITE}-1", f"{SITE}-2"]
    placed = [site_of(i, sites) for i in range(6)]
    assert placed == [f"{SITE}-1", f"{SITE}-2"] * 3
    with pytest.raises(ValueError, match="at least 1"):
        site_names(0)
