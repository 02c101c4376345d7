"""Scenario specs, deterministic generation, and labels that follow from the events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from device_sim.scenarios import (
    ScenarioError,
    generate,
    load_library,
    parse_duration,
    spec_from_dict,
)
from rules.types import DeviceEvent, DeviceStatus, Motion, Vital


def spec(events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "t",
        "split": "tune",
        "seed": 3,
        "start": "2024-03-04T09:00:00+08:00",
        "duration": "40m",
        "daily_adls": False,
        "residents": [
            {"key": "a", "unit": "east", "fall_risk": True},
            {"key": "b", "unit": "east", "conditions": ["copd"], "news2_scale": 2},
        ],
        "events": events,
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("2h30m", 9000.0), ("1d6h", 108000.0)],
    ids=["number", "seconds", "minutes", "hours-minutes", "days-hours"],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "", True, None], ids=["word", "empty", "bool", "none"])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ScenarioError):
        parse_duration(bad)


def test_unknown_kind_and_resident_are_refused() -> None:
    with pytest.raises(ScenarioError, match="unknown event kind"):
        spec_from_dict(spec([{"at": "1m", "resident": "a", "kind": "explode"}]))
    with pytest.raises(ScenarioError, match="unknown resident"):
        spec_from_dict(spec([{"at": "1m", "resident": "zz", "kind": "sos"}]))


def test_count_expands_residents() -> None:
    s = spec_from_dict(spec([], residents=[{"key": "r", "count": 3, "unit": "u"}]))
    assert [r.key for r in s.residents] == ["r1", "r2", "r3"]


def test_same_seed_same_stream_and_labels() -> None:
    s = spec_from_dict(
        spec(
            [
                {"at": "5m", "resident": "a", "kind": "fall", "motion": "fall_forward"},
                {"at": "10m", "resident": "b", "kind": "hypoxia", "spo2": 80, "hold": "3m"},
            ]
        )
    )
    one, two = generate(s), generate(s)
    first = list(one.observations())
    assert first == list(two.observations())
    assert one.labels == two.labels
    other = list(generate(s, seed=4).observations())
    assert other != first


def test_stream_is_sorted_and_has_every_kind() -> None:
    s = spec_from_dict(
        spec(
            [
                {"at": "5m", "resident": "a", "kind": "fall", "motion": "fall_sideways"},
                {"at": "8m", "resident": "b", "kind": "sos"},
            ]
        )
    )
    obs = [o for _, o in generate(s).observations()]
    times = [o.ts for o in obs]
    assert times == sorted(times)
    kinds = {type(o) for o in obs}
    assert kinds == {Vital, Motion, DeviceEvent, DeviceStatus}
    sources = {o.source for o in obs if isinstance(o, Vital)}
    assert sources == {"vitals", "bed", "manual"}  # manual: the admission round at the start


def test_labels_follow_events() -> None:
    s = spec_from_dict(
        spec(
            [
                {"at": "5m", "resident": "a", "kind": "fall", "motion": "fall_forward"},
                {"at": "12m", "resident": "a", "kind": "near_fall", "motion": "sit_down_hard"},
                {"at": "10m", "resident": "b", "kind": "hypoxia", "spo2": 80, "hold": "3m"},
                {"at": "20m", "resident": "a", "kind": "spo2_artifact", "spo2": 84},
            ]
        )
    )
    sc = generate(s)
    by = {(lab.subject, lab.family, lab.positive, lab.kind): lab for lab in sc.labels}
    fall = by[("resident:1", "fall", True, "fall")]
    assert fall.onset == sc.start + timedelta(minutes=5) == fall.detectable_at
    assert ("resident:1", "fall", False, "near_fall") in by
    # Scale 2 (COPD): the SpO2 limit is 85 %, held 15 s before the data support an alert.
    hyp = by[("resident:2", "vital.spo2.low", True, "hypoxia")]
    readings = [
        o
        for rid, o in sc.observations()
        if rid == 2 and isinstance(o, Vital) and o.metric == "spo2" and o.ts <= hyp.detectable_at
    ]
    below = [v for v in readings if v.value < 85]
    assert below and (hyp.detectable_at - below[0].ts).total_seconds() >= 15
    assert by[("resident:2", "news2", True, "hypoxia")].detectable_at <= hyp.detectable_at
    assert ("resident:1", "vital.spo2.low", False, "spo2_artifact") in by
    assert ("resident:1", "news2", False, "spo2_artifact") in by


def test_library_loads_with_both_splits() -> None:
    specs = load_library()
    assert {s.split for s in specs} == {"tune", "heldout"}
    week = next(s for s in specs if s.name == "heldout-normal-week")
    assert len(week.residents) == 30 and week.duration_s == 7 * 86400 and not week.events


@pytest.mark.parametrize(
    ("left_hour", "away_min", "labels"),
    [(2, 20, 1), (2, 10, 0), (14, 40, 0)],
    ids=["long-night-exit", "short-night-exit", "daytime"],
)
def test_a_long_night_absence_the_physiology_made_is_labelled(
    left_hour: int, away_min: int, labels: int
) -> None:
    from device_sim.scenarios.spontaneous import spontaneous_night_exits
    from rules.engine import RulesConfig
    from rules.types import ResidentProfile

    spec = spec_from_dict(
        {"name": "x", "start": "2024-03-04T00:00:00+08:00", "duration": "1d", "residents": []}
    )
    profile = ResidentProfile(1, "s", "u", fall_risk=True)
    left = spec.start + timedelta(hours=left_hour)
    occupied = [
        Vital(left - timedelta(minutes=1), "occupied", 1.0, "bed", "b"),
        *(Vital(left + timedelta(minutes=m), "occupied", 0.0, "bed", "b") for m in range(away_min)),
        Vital(left + timedelta(minutes=away_min), "occupied", 1.0, "bed", "b"),
    ]
    found = spontaneous_night_exits(spec, profile, occupied, [], RulesConfig())
    assert len(found) == labels
    if labels:
        assert found[0].positive and found[0].detectable_at == left + timedelta(minutes=15)


@pytest.mark.parametrize(("high_for_s", "labels"), [(40, 1), (20, 0)], ids=["sustained", "a-touch"])
def test_a_sustained_news2_of_5_the_physiology_made_is_labelled(
    high_for_s: int, labels: int
) -> None:
    from device_sim.scenarios.spontaneous import spontaneous_news2
    from rules.engine import RulesConfig
    from rules.types import ResidentProfile

    spec = spec_from_dict(
        {"name": "x", "start": "2024-03-04T00:00:00+08:00", "duration": "1d", "residents": []}
    )
    t0 = spec.start + timedelta(hours=3)
    base = [
        Vital(t0, m, v, "manual")
        for m, v in (("acvpu", 0), ("sbp", 125), ("temp", 36.8), ("on_o2", 0))
    ]
    stream = list(base)
    for s in range(0, 120, 5):  # spo2 91 (3) + rr 21 (2) = 5 for `high_for_s`, then 0
        high = s < high_for_s
        ts = t0 + timedelta(seconds=s)
        stream += [
            Vital(ts, "spo2", 91 if high else 97, "vitals"),
            Vital(ts, "rr", 21 if high else 16, "vitals"),
            Vital(ts, "hr", 70, "vitals"),
        ]
    profile = ResidentProfile(1, "s", "u")
    found = spontaneous_news2(spec, profile, stream, [], RulesConfig())
    assert len(found) == labels
    if labels:
        assert (found[0].family, found[0].onset) == ("news2", t0)
