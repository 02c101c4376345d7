"""One resident's observations, generated in timestamp order from their plan: the wearable's
and the bed sensor's readings, statuses, the rounds' manual readings, motion windows and
device events."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, time, timedelta
from typing import Any, Final, cast

import numpy as np

from device_sim.motion import Recording
from device_sim.motion import generate as generate_motion
from device_sim.physiology import ResidentState, bed_at, new_resident, vitals_at
from device_sim.scenarios.plan import ResidentPlan
from device_sim.scenarios.spec import ScenarioSpec
from rules.types import DeviceEvent, DeviceStatus, Motion, Observation, Vital
from rules.vocabulary import VITAL_SIGNS

MOTION_HZ: Final = 50.0
MOTION_WINDOW_S: Final = 2.0
VITALS_EVERY_S: Final = 60.0  # hr, spo2, rr, temp from the wearable
FAST_EVERY_S: Final = 5.0  # hr, spo2, rr around vital-sign events
BP_EVERY_S: Final = 900.0  # cuffless blood pressure, normally
BP_FAST_EVERY_S: Final = 300.0
BED_EVERY_S: Final = 60.0
STATUS_EVERY_S: Final = 600.0
ROUNDS: Final = (time(8, 0), time(20, 0))  # manual ACVPU, BP, temperature
ADL_HOURS: Final = (7.0, 21.5)  # local hours in which daily activities are spread
ADL_GAP_MIN: Final = (40.0, 90.0)  # minutes between two daily activities
DAILY_ADLS: Final = ("walk", "walk", "sit_down", "bend", "lie_down_slow", "sit_down_hard")
CHARGE_AT: Final = time(10, 0)  # wearables go on the charger during the morning wash
DRAIN_PER_H: Final = 1.5


_CLIP: Final[Mapping[str, tuple[float, float]]] = {
    "hr": (30, 200),
    "spo2": (70, 100),
    "rr": (5, 50),
    "temp": (34.0, 41.5),
    "sbp": (60, 230),
    "dbp": (30, 140),
}


def _finish(metric: str, value: float) -> float:
    lo, hi = _CLIP[metric]
    value = min(max(value, lo), hi)
    return round(value, 1) if metric == "temp" else float(round(value))


def within(intervals: Sequence[tuple[float, float]], t: float) -> bool:
    return any(a <= t < b for a, b in intervals)


_VITALS, _BED, _STATUS, _ROUND, _MOTION, _EVENT = range(6)


def _schedule(
    r: ResidentPlan, spec: ScenarioSpec, rng: np.random.Generator
) -> list[tuple[float, int, Any]]:
    """(offset s, item kind, payload) for everything the resident's devices and staff emit."""
    dur = spec.duration_s
    items: list[tuple[float, int, Any]] = []
    if r.wearable is not None:
        times = set(np.arange(r.phase_s, dur, VITALS_EVERY_S).round(3).tolist())
        for a, b in r.fast:
            times |= set(
                np.arange(max(0.0, a) + r.phase_s % 5, min(dur, b), FAST_EVERY_S).round(3).tolist()
            )
        items += [(t, _VITALS, None) for t in sorted(times)]
    if r.bed is not None:
        times = set(np.arange(r.phase_s, dur, BED_EVERY_S).round(3).tolist())
        times |= {t for t in r.extra_bed if 0 <= t < dur}
        items += [(t, _BED, None) for t in sorted(times)]
    for device in (r.wearable, r.bed):
        if device is not None:
            items += [
                (t, _STATUS, (device, True))
                for t in np.arange(r.phase_s + 1, dur, STATUS_EVERY_S).tolist()
            ]
    items += [(t, _STATUS, (d, on)) for t, d, on in r.statuses if 0 <= t < dur]
    items.append((0.0, _ROUND, None))
    day = spec.start.date() - timedelta(days=1)
    while True:
        day += timedelta(days=1)
        done = False
        for round_at in ROUNDS:
            t = (
                datetime.combine(day, round_at, tzinfo=spec.start.tzinfo) - spec.start
            ).total_seconds()
            if t >= dur:
                done = True
                break
            if t > 0:
                items.append((t, _ROUND, None))
        if done:
            break
    motion: list[tuple[float, str, bool]] = list(r.motion)
    if spec.daily_adls and r.wearable is not None:
        motion += _daily_adls(r, spec, rng)
    for offset, kind, _impact in motion:
        items.append((offset, _MOTION, kind))
    items += [(t, _EVENT, (d, k, z)) for t, d, k, z in r.device_events if 0 <= t < dur]
    items.sort(key=lambda x: (x[0], x[1]))
    return items


def _daily_adls(
    r: ResidentPlan, spec: ScenarioSpec, rng: np.random.Generator
) -> list[tuple[float, str, bool]]:
    out: list[tuple[float, str, bool]] = []
    tz = spec.start.tzinfo
    day = spec.start.date()
    end = spec.end
    while True:
        t = datetime.combine(day, time(0), tzinfo=tz) + timedelta(hours=ADL_HOURS[0])
        stop = datetime.combine(day, time(0), tzinfo=tz) + timedelta(hours=ADL_HOURS[1])
        if t >= end:
            return out
        while t < stop:
            t += timedelta(minutes=float(rng.uniform(*ADL_GAP_MIN)))
            off = (t - spec.start).total_seconds()
            kind = str(rng.choice(DAILY_ADLS))
            if 0 <= off < spec.duration_s - 30 and not within(r.quiet, off):
                out.append((off, kind, False))
        day += timedelta(days=1)


REORDER_S: Final = 120.0  # a motion recording starts before its scheduled impact


def resident_stream(r: ResidentPlan, spec: ScenarioSpec) -> Iterator[Observation]:
    """The resident's observations in timestamp order (a small buffer puts the windows of a
    motion recording, which start before the impact they are scheduled at, in place)."""
    pending: list[tuple[datetime, int, Observation]] = []
    horizon = timedelta(seconds=REORDER_S)
    for n, obs in enumerate(_unordered(r, spec)):
        heapq.heappush(pending, (obs.ts, n, obs))
        while pending[0][0] <= obs.ts - horizon:
            yield heapq.heappop(pending)[2]
    while pending:
        yield heapq.heappop(pending)[2]


def _unordered(r: ResidentPlan, spec: ScenarioSpec) -> Iterator[Observation]:
    ss = np.random.SeedSequence(list(r.seed))
    phys_rng, sched_rng, motion_rng = (np.random.default_rng(s) for s in ss.spawn(3))
    state: ResidentState = new_resident(phys_rng)
    start = spec.start
    base = state.baseline
    baselines = {"_spo2_baseline": base.spo2, "_temp_baseline": base.temp}
    wearable_quiet = r.silent.get(r.wearable or "", []) + r.silent.get(f"{r.wearable}:vitals", [])
    for t, kind, payload in _schedule(r, spec, sched_rng):
        ts = start + timedelta(seconds=t)
        if kind == _VITALS:
            assert r.wearable is not None
            state, raw = vitals_at(state, ts, phys_rng)
            if within(wearable_quiet, t):
                continue
            numbers = cast(Mapping[str, float], raw)
            values = {m: float(numbers[m]) for m in VITAL_SIGNS}
            values.update(baselines)
            for modify in r.modifiers:
                modify(t, values)
            fast = within(r.fast, t)
            on_grid = abs((t - r.phase_s) % VITALS_EVERY_S) < 1e-6
            bp_every = BP_FAST_EVERY_S if fast else BP_EVERY_S
            on_bp = abs((t - r.phase_s) % bp_every) < 1e-6
            for metric in VITAL_SIGNS:
                if metric == "temp" and not on_grid:
                    continue
                if metric in ("sbp", "dbp") and not on_bp:
                    continue
                yield Vital(ts, metric, _finish(metric, values[metric]), "vitals", r.wearable)
        elif kind == _BED:
            assert r.bed is not None
            state, bed = bed_at(state, ts, phys_rng)
            if within(r.silent.get(r.bed, []), t):
                continue
            occupied = bed["occupied"]
            forced = next((o for a, b, o in r.occupancy if a <= t < b), None)
            if forced is not None and forced != occupied:
                occupied = forced
                bed = {"occupied": forced, "movement": 0.1 if forced else 0.0}
            yield Vital(ts, "occupied", 1.0 if occupied else 0.0, "bed", r.bed)
            yield Vital(ts, "movement", float(bed["movement"]), "bed", r.bed)
            if occupied and "hr" in bed and "rr" in bed:
                values = {"hr": float(bed["hr"]), "rr": float(bed["rr"]), **baselines}
                for modify in r.modifiers:
                    modify(t, values)
                yield Vital(ts, "hr", _finish("hr", values["hr"]), "bed", r.bed)
                yield Vital(ts, "rr", _finish("rr", values["rr"]), "bed", r.bed)
        elif kind == _STATUS:
            device, online = payload
            if online and within(r.silent.get(device, []), t):
                continue
            if not online:
                yield DeviceStatus(ts, device, online=False)
                continue
            yield DeviceStatus(ts, device, battery=battery_level(r, device, t, spec), online=True)
        elif kind == _ROUND:
            state, raw = vitals_at(state, ts, phys_rng)
            values = {"sbp": float(raw["sbp"]), "temp": float(raw["temp"]), **baselines}
            for modify in r.modifiers:
                modify(t, values)
            yield Vital(ts, "acvpu", 0.0, "manual")
            yield Vital(ts, "on_o2", 0.0, "manual")
            yield Vital(ts, "sbp", _finish("sbp", values["sbp"]), "manual")
            yield Vital(ts, "temp", _finish("temp", values["temp"]), "manual")
        elif kind == _MOTION:
            assert r.wearable is not None
            if within(r.silent.get(r.wearable, []), t):
                continue
            rec = generate_motion(payload, placement=r.spec.placement, hz=MOTION_HZ, rng=motion_rng)
            impact = next((imp for at, k, imp in r.motion if at == t and k == payload), False)
            first = t - (rec.event_s or 0.0) if impact else t
            yield from _windows(rec, start + timedelta(seconds=first), r.wearable)
        else:
            device, etype, zone = payload
            yield DeviceEvent(ts, device, etype, zone=zone)


def _windows(rec: Recording, first: datetime, device: str) -> Iterator[Motion]:
    for offset, chunk in rec.windows(MOTION_WINDOW_S):
        yield Motion(
            ts=first + timedelta(seconds=offset),
            device_id=device,
            hz=rec.hz,
            ax=tuple(chunk[:, 0].tolist()),
            ay=tuple(chunk[:, 1].tolist()),
            az=tuple(chunk[:, 2].tolist()),
        )


def battery_level(r: ResidentPlan, device: str, t: float, spec: ScenarioSpec) -> float | None:
    if device == r.bed:
        return None  # mains powered
    death = r.battery.get(device)
    if death is not None and t >= death[0]:
        t0, level, t1 = death
        return round(max(0.0, level * (1 - (t - t0) / (t1 - t0))))
    # Charged every morning: the level falls from 100 through the day.
    ts = spec.start + timedelta(seconds=t)
    charged = datetime.combine(ts.date(), CHARGE_AT, tzinfo=ts.tzinfo)
    if charged > ts:
        charged -= timedelta(days=1)
    hours = (ts - charged).total_seconds() / 3600
    return round(100 - DRAIN_PER_H * hours)
