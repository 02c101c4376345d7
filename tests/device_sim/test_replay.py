"""A scenario file played by the ward's devices: who plays whom, when it starts, and that
the messages are the scenario's device observations one for one."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from device_sim.devices import SimDevice, synthetic_ward
from device_sim.labels import Labels
from device_sim.messages import DeviceClock
from device_sim.physiology import DEFAULT_TZ, local_hour
from device_sim.replay import ScenarioSource, cast_ward, natural_key, placed, scenario_start
from device_sim.scenarios import ScenarioError, generate, spec_from_dict
from rules.types import DeviceEvent, DeviceStatus, Motion, Vital

SPEC = spec_from_dict(
    {
        "name": "small",
        "seed": 5,
        "start": "2025-03-10T21:30:00+08:00",
        "duration": "90m",
        "residents": [
            {"key": "a", "unit": "u", "fall_risk": True},
            {"key": "b", "unit": "u", "bed_sensor": False},
        ],
        "events": [
            {"at": "10m", "resident": "a", "kind": "fall", "motion": "fall_backward"},
            {"at": "20m", "resident": "b", "kind": "wear_off", "duration": "20m"},
            {"at": "30m", "resident": "a", "kind": "device_offline", "device": "bed", "lwt": True},
            {"at": "40m", "resident": "b", "kind": "sos"},
        ],
    }
)


def source(devices: list[SimDevice] | None = None) -> tuple[ScenarioSource, Labels]:
    devices = devices or synthetic_ward(2)
    labels = Labels()
    clocks = {d.device_id: DeviceClock() for d in devices}
    return ScenarioSource(SPEC, devices, seed=SPEC.seed, clocks=clocks, labels=labels), labels


def test_scenario_residents_take_the_ward_residents_in_order() -> None:
    ward = synthetic_ward(12)
    cast = cast_ward(SPEC, list(reversed(ward)))
    assert {k: v.device_id for k, v in cast.items()} == {
        "w-1": "demo-w000",
        "b-1": "demo-b000",
        "w-2": "demo-w001",  # b has no bed sensor in the scenario: its own stays silent
    }
    assert sorted(["r10", "r2", "r1"], key=natural_key) == ["r1", "r2", "r10"]


def test_a_ward_too_small_or_missing_a_device_is_refused() -> None:
    with pytest.raises(ScenarioError, match="2 residents in the scenario, 1 in the ward"):
        cast_ward(SPEC, synthetic_ward(1))
    beds_only = [d for d in synthetic_ward(2) if d.kind == "bed_sensor"]
    with pytest.raises(ScenarioError, match="needs a wearable"):
        cast_ward(SPEC, beds_only)


@pytest.mark.parametrize("speed", [1.0, 60.0, float("inf")], ids=["real-time", "x60", "unpaced"])
def test_the_default_start_keeps_the_time_of_day_and_ends_by_now(speed: float) -> None:
    now = datetime(2025, 6, 1, 15, 0, tzinfo=UTC)
    start = scenario_start(SPEC, now, speed)
    assert local_hour(start, DEFAULT_TZ) == local_hour(SPEC.start, DEFAULT_TZ)
    assert (start - SPEC.start) % timedelta(days=1) == timedelta(0)
    ends = start + timedelta(seconds=SPEC.duration_s / speed)
    assert start <= now and ends <= now
    assert start > now - timedelta(days=1) - timedelta(seconds=SPEC.duration_s)


def test_placed_moves_the_start_and_keeps_the_scenarios_zone() -> None:
    moved = placed(SPEC, datetime(2025, 5, 1, 13, 30, tzinfo=UTC))
    assert moved.start == datetime(2025, 5, 1, 21, 30, tzinfo=DEFAULT_TZ)
    assert moved.start.tzinfo == SPEC.start.tzinfo and moved.events == SPEC.events


def test_the_messages_are_the_scenarios_device_observations_one_for_one() -> None:
    src, _ = source()
    sent = list(src.emitted())
    expected: Counter[tuple[str, str]] = Counter()
    names = {"w-1": "demo-w000", "b-1": "demo-b000", "w-2": "demo-w001"}
    groups: set[tuple[datetime, str, str]] = set()
    for _, obs in generate(SPEC).observations():
        if isinstance(obs, Vital):
            if obs.source != "manual":  # rounds: entered by staff, not sent by devices
                assert obs.device_id is not None
                groups.add((obs.ts, obs.device_id, obs.source))
        elif isinstance(obs, Motion):
            expected[(names[obs.device_id], "motion")] += 1
        elif isinstance(obs, DeviceEvent):
            expected[(names[obs.device_id], "event")] += 1
        else:
            assert isinstance(obs, DeviceStatus)
            expected[(names[obs.device_id], "status")] += 1
    for _, device_id, source_ in groups:
        expected[(names[device_id], "vitals" if source_ == "vitals" else "bed")] += 1
    assert Counter((d.device_id, d.message.stream) for d in sent) == expected
    # In order of sending; each device's seq counts up in that order.
    assert [d.offset_s for d in sent] == sorted(d.offset_s for d in sent)
    for device_id in names.values():
        seqs = [json.loads(d.message.payload)["seq"] for d in sent if d.device_id == device_id]
        assert seqs == list(range(1, len(seqs) + 1))


def test_motion_windows_go_once_recorded_and_values_keep_their_types() -> None:
    src, _ = source()
    for d in src.emitted():
        body: dict[str, Any] = json.loads(d.message.payload)
        at_ts = (body["ts"] - SPEC.start.timestamp() * 1000) / 1000
        if d.message.stream == "motion":
            assert d.offset_s == pytest.approx(at_ts + len(body["ax"]) / body["hz"], abs=1e-3)
        else:
            assert d.offset_s == pytest.approx(at_ts, abs=1e-3)
        if d.message.stream == "vitals":
            assert all(type(body[m]) is int for m in ("hr", "spo2", "rr") if m in body)
            assert type(body.get("temp", 0.0)) is float
        if d.message.stream == "bed":
            assert type(body["occupied"]) is bool
        if d.message.stream == "status":
            assert d.message.retain


def test_labels_come_as_the_run_reaches_them() -> None:
    src, labels = source()
    stream = src.emitted()
    for d in stream:
        if d.offset_s > 25 * 60:
            break
    events = [r for r in labels.records if r["type"] == "event"]
    assert [(r["kind"], r["scenario_resident"]) for r in events] == [
        ("fall", "a"),
        ("wear_off", "b"),
    ]
    assert all(
        datetime.fromisoformat(r["onset"]) <= SPEC.start + timedelta(minutes=25)
        for r in labels.records
        if r["type"] == "truth"
    )
    for _ in stream:
        pass
    assert len([r for r in labels.records if r["type"] == "event"]) == len(SPEC.events)
    truths = [r for r in labels.records if r["type"] == "truth"]
    assert len(truths) == len(generate(SPEC).labels)
    assert {r["resident"] for r in truths} <= {"r1", "r2"}
