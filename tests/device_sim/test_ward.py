"""The live ward: readings, statuses and the routine as devices send them, and labels that say
what happened. Comparisons are between runs with the same seed, with and without one part of
the routine: the physiology draws the same numbers either way, so a difference is that part."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from device_sim.devices import SimDevice, synthetic_ward
from device_sim.labels import Labels
from device_sim.messages import Delivery, DeviceClock, epoch_ms
from device_sim.physiology import DEFAULT_TZ, FEVER_HR_PER_C, FEVER_RR_PER_C
from device_sim.scenarios.stream import MOTION_HZ, MOTION_WINDOW_S
from device_sim.ward import STATUS_EVERY_S, WardOptions, WardSource

MORNING = datetime(2025, 3, 4, 6, 0, tzinfo=DEFAULT_TZ)


def ward(
    devices: list[SimDevice],
    *,
    start: datetime = MORNING,
    hours: float = 16.0,
    rate_hz: float = 1 / 20,
    options: WardOptions = WardOptions(),  # noqa: B008 - frozen
    seed: int = 4,
) -> tuple[list[Delivery], list[dict[str, Any]]]:
    labels = Labels()
    source = WardSource(
        devices,
        seed=seed,
        start=start,
        duration_s=hours * 3600,
        rate_hz=rate_hz,
        clocks={d.device_id: DeviceClock() for d in devices},
        labels=labels,
        options=options,
    )
    return list(source.emitted()), labels.records


Indexed = dict[tuple[str, str], list[tuple[datetime, dict[str, Any]]]]
_indexes: dict[int, tuple[list[Delivery], Indexed]] = {}


def of(out: list[Delivery], device_id: str, stream: str) -> list[tuple[datetime, dict[str, Any]]]:
    """A device's messages of one stream as (ts, body); each run is parsed once."""
    cached = _indexes.get(id(out))
    if cached is None or cached[0] is not out:
        index: Indexed = {}
        for d in out:
            b = json.loads(d.message.payload)
            t = datetime.fromtimestamp(b["ts"] / 1000, DEFAULT_TZ)
            index.setdefault((d.device_id, d.message.stream), []).append((t, b))
        if len(_indexes) >= 4:  # a test compares two runs at most: keep memory in check
            _indexes.clear()
        cached = _indexes[id(out)] = (out, index)
    return cached[1].get((device_id, stream), [])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_fever_raises_temperature_heart_and_breathing_rate_together() -> None:
    devices = synthetic_ward(3)
    plain, _ = ward(devices, hours=36, rate_hz=1 / 300)
    febrile, labels = ward(devices, hours=36, rate_hz=1 / 300, options=WardOptions(fever_rate=1.0))
    fevers = [r for r in labels if r["kind"] == "fever"]
    assert fevers
    rises = 0
    for w in (d for d in devices if d.kind == "wearable"):
        base = dict(of(plain, w.device_id, "vitals"))
        mine = [f for f in fevers if w.device_id in f["devices"]]
        for t, b in of(febrile, w.device_id, "vitals"):
            elevation = sum(_elevation(f, t) for f in mine)
            b0 = base[t]
            assert abs((b["hr"] - b0["hr"]) - FEVER_HR_PER_C * elevation) <= 1.01
            assert abs((b["rr"] - b0["rr"]) - FEVER_RR_PER_C * elevation) <= 1.01
            assert abs((b["temp"] - b0["temp"]) - elevation) <= 0.11
            rises += elevation > 1.0
    assert rises > 20


def _elevation(fever: dict[str, Any], t: datetime) -> float:
    start, top, fall, end = (at(fever[k]) for k in ("start", "peak_from", "peak_until", "end"))
    if t < start or t >= end:
        return 0.0
    if t < top:
        return float(fever["rise_c"]) * (t - start) / (top - start)
    if t < fall:
        return float(fever["rise_c"])
    return float(fever["rise_c"]) * (1 - (t - fall) / (end - fall))


def test_meals_move_heart_rate_and_blood_pressure() -> None:
    devices = synthetic_ward(4)
    without, _ = ward(devices, options=WardOptions(routine=False))
    with_routine, labels = ward(devices)
    meals = [r for r in labels if r["kind"] == "meal"]
    busy = [
        (at(r["start"]), at(r["end"]) + timedelta(minutes=5))
        for r in labels
        if r["kind"] == "activity"
    ]
    assert len(meals) == 4 * 3
    checked = 0
    for meal in meals:
        wearable = meal["devices"][0]
        assert wearable.startswith("demo-w")
        held = (
            at(meal["start"]) + timedelta(minutes=20),
            at(meal["start"]) + timedelta(minutes=40),
        )
        base = dict(of(without, wearable, "vitals"))
        for t, b in of(with_routine, wearable, "vitals"):
            if held[0] <= t < held[1] and not any(lo <= t < hi for lo, hi in busy):
                assert b["hr"] - base[t]["hr"] in (5, 6, 7)
                assert b["sbp"] - base[t]["sbp"] in (-8, -7, -6)
                checked += 1
    assert checked > 50


def test_moving_makes_the_spo2_reading_dip_and_the_heart_work() -> None:
    devices = synthetic_ward(3)
    # Every second, to catch the few seconds an activity lasts; 07:00 to noon is busy.
    without, _ = ward(devices, rate_hz=1.0, hours=6, options=WardOptions(routine=False))
    with_routine, labels = ward(devices, rate_hz=1.0, hours=6)
    artefacts = [r for r in labels if r["kind"] == "activity" and r["spo2_dip"] > 0]
    assert artefacts
    dipped = 0
    for act in artefacts:
        (wearable,) = act["devices"]
        base = dict(of(without, wearable, "vitals"))
        for t, b in of(with_routine, wearable, "vitals"):
            if at(act["start"]) <= t < at(act["end"]):
                # The label's dip is rounded to 0.1.
                assert abs(b["spo2"] - max(50, base[t]["spo2"] - act["spo2_dip"])) <= 1
                assert b["hr"] > base[t]["hr"]
                dipped += 1
    assert dipped > 30


def test_activities_send_accelerometer_windows_once_recorded() -> None:
    devices = synthetic_ward(3)
    out, labels = ward(devices)
    seen = [r for r in labels if r["kind"] == "activity" and r["seen"]]
    assert len(seen) >= 15
    start_ms = epoch_ms(MORNING)
    for act in seen:
        (wearable,) = act["devices"]
        windows = [
            (d, json.loads(d.message.payload))
            for d in out
            if d.device_id == wearable
            and d.message.stream == "motion"
            and at(act["start"])
            <= datetime.fromtimestamp(json.loads(d.message.payload)["ts"] / 1000, DEFAULT_TZ)
            < at(act["end"])
        ]
        assert len(windows) == math.ceil(
            (at(act["end"]) - at(act["start"])).total_seconds() / MOTION_WINDOW_S - 1e-9
        )
        for k, (d, b) in enumerate(windows):
            assert b["hz"] == MOTION_HZ
            assert len(b["ax"]) == len(b["ay"]) == len(b["az"]) <= MOTION_HZ * MOTION_WINDOW_S
            window_start = epoch_ms(at(act["start"])) + round(k * MOTION_WINDOW_S * 1000)
            assert b["ts"] == window_start
            # Sent once complete, not before.
            done = (b["ts"] - start_ms) / 1000 + len(b["ax"]) / MOTION_HZ
            assert abs(d.offset_s - done) < 0.0011  # ts is in whole ms
    assert all(r["devices"] == [] for r in labels if r["kind"] == "activity" and not r["seen"])
    quiet, _ = ward(devices, options=WardOptions(routine=False))
    assert not [d for d in quiet if d.message.stream in ("motion", "event")]


def test_the_morning_wash_takes_the_wearable_off() -> None:
    devices = synthetic_ward(4)
    out, labels = ward(devices, hours=8, rate_hz=1 / 10)
    washes = [r for r in labels if r["kind"] == "wash"]
    assert len(washes) == 4
    for wash in washes:
        (wearable,) = wash["devices"]
        start, end = at(wash["start"]), at(wash["end"])
        events = [(b["type"], t) for t, b in of(out, wearable, "event")]
        assert events == [("wear_off", start), ("wear_on", end)]
        assert not [t for t, _ in of(out, wearable, "vitals") if start < t < end]
        assert not [t for t, _ in of(out, wearable, "motion") if start <= t < end]
        # Still there: the status heartbeat goes on.
        assert [t for t, _ in of(out, wearable, "status") if start < t < end]


def test_a_run_that_starts_mid_wash_starts_with_the_wearable_off() -> None:
    devices = synthetic_ward(1)
    _, labels = ward(devices, hours=8)
    wash = next(r for r in labels if r["kind"] == "wash")
    start = at(wash["start"]) + timedelta(minutes=2)
    out, again = ward(devices, start=start, hours=1)
    events = [(b["type"], t) for t, b in of(out, "demo-w000", "event")]
    assert events == [("wear_off", start), ("wear_on", at(wash["end"]))]
    assert next(r for r in again if r["kind"] == "wash")["start"] == wash["start"]


def test_a_wearable_on_the_charger_is_off_the_resident_until_full() -> None:
    devices = synthetic_ward(2)
    out, labels = ward(devices, hours=48, rate_hz=1 / 300, options=WardOptions(routine=False))
    charging = [r for r in labels if r["kind"] == "charging"]
    assert charging
    for spell in charging:
        (wearable,) = spell["devices"]
        start = at(spell["start"])
        end = at(spell["end"]) if spell["end"] else MORNING + timedelta(hours=48)
        levels = [b["battery"] for t, b in of(out, wearable, "status") if start <= t <= end]
        assert levels[0] <= 15 and levels == sorted(levels)  # charging up
        if spell["end"]:
            assert levels[-1] == 100
        events = [(b["type"], t) for t, b in of(out, wearable, "event") if start <= t <= end]
        assert events[0] == ("wear_off", start)
        assert not [t for t, _ in of(out, wearable, "vitals") if start < t < end]
    beds = {d.device_id for d in devices if d.kind == "bed_sensor"}
    assert not [r for r in charging if set(r["devices"]) & beds]  # a bed sensor stays put


def test_status_every_minute_and_readings_at_the_rate() -> None:
    devices = synthetic_ward(2)
    out, _ = ward(devices, start=MORNING.replace(hour=2), hours=1, rate_hz=0.5)
    for device in devices:
        statuses = of(out, device.device_id, "status")
        assert len(statuses) == 3600 / STATUS_EVERY_S
        stream = "vitals" if device.kind == "wearable" else "bed"
        assert len(of(out, device.device_id, stream)) == 1800
    assert [d.offset_s for d in out] == sorted(d.offset_s for d in out)
