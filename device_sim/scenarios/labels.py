"""The labels of one resident's scripted events, and the unit-level fever clusters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import numpy as np

from device_sim.scenarios.onsets import fever_onset, limit_onset, news2_onset
from device_sim.scenarios.plan import ResidentPlan, event_end, param
from device_sim.scenarios.spec import EventSpec, ScenarioSpec, parse_duration
from device_sim.scenarios.spontaneous import spontaneous_news2, spontaneous_night_exits
from device_sim.scenarios.stream import STATUS_EVERY_S, battery_level, resident_stream
from device_sim.scenarios.truth import Label
from rules.engine import RulesConfig
from rules.types import DeviceStatus, Severity, Vital, unit_subject
from rules.vitals import uses_scale2
from rules.vocabulary import VITAL_SIGNS

NEGATIVE_WINDOW_S: Final = 600.0


@dataclass(frozen=True, slots=True)
class _Emitted:
    """What one resident's stream emitted, as far as their labels depend on it."""

    vitals: list[Vital]
    occupied: list[Vital]
    last_seen: dict[str, list[datetime]]  # per device: when it was heard from


def _emitted(spec: ScenarioSpec, r: ResidentPlan) -> _Emitted:
    vitals: list[Vital] = []
    occupied: list[Vital] = []
    last_seen: dict[str, list[datetime]] = {}
    for obs in resident_stream(r, spec):
        if isinstance(obs, Vital):
            vitals.append(obs)
            if obs.metric == "occupied":
                occupied.append(obs)
        if obs.device_id is not None and not (
            isinstance(obs, DeviceStatus) and obs.online is False
        ):
            last_seen.setdefault(obs.device_id, []).append(obs.ts)
    return _Emitted(vitals, occupied, last_seen)


def resident_labels(spec: ScenarioSpec, r: ResidentPlan, config: RulesConfig) -> list[Label]:
    """The resident's labels: their scripted events', and what their physiology made alone."""
    emitted = _emitted(spec, r)
    out: list[Label] = []
    for e in r.events:
        out += _event_labels(spec, r, e, emitted, config)
    if r.profile.fall_risk:
        out += spontaneous_night_exits(spec, r.profile, emitted.occupied, out, config)
    out += spontaneous_news2(spec, r.profile, emitted.vitals, out, config)
    return out


def _label(
    spec: ScenarioSpec,
    r: ResidentPlan,
    family: str,
    positive: bool,
    onset: float | datetime,
    *,
    detectable: datetime | None = None,
    window_end: float | datetime,
    kind: str,
    min_severity: Severity | None = None,
    note: str = "",
) -> Label:
    """A label of the resident's; offsets (float) count from the scenario's start."""
    start = spec.start
    on = onset if isinstance(onset, datetime) else start + timedelta(seconds=onset)
    until = (
        window_end
        if isinstance(window_end, datetime)
        else start + timedelta(seconds=min(window_end, spec.duration_s))
    )
    return Label(
        spec.name,
        r.profile.subject,
        family,
        positive,
        on,
        detectable or on,
        min(until, spec.end),
        kind,
        min_severity,
        note,
    )


def _event_labels(
    spec: ScenarioSpec, r: ResidentPlan, e: EventSpec, emitted: _Emitted, config: RulesConfig
) -> list[Label]:
    at = e.at_s
    ts = spec.start + timedelta(seconds=at)
    k = e.kind
    if k == "fall":
        note = str(param(e, "motion", ""))
        return [_label(spec, r, "fall", True, at, window_end=at + 900, kind=k, note=note)]
    if k == "near_fall":
        return [
            _label(
                spec,
                r,
                "fall",
                False,
                at - 10,
                window_end=at + NEGATIVE_WINDOW_S,
                kind=k,
                note=str(param(e, "motion", "")),
            )
        ]
    if k in ("hypoxia", "deterioration", "fever"):
        until = event_end(e) + (3600 if k == "fever" else 900)
        return _vital_labels(spec, r, emitted.vitals, at, until, k, config)
    if k == "spo2_artifact":
        return [
            _label(spec, r, fam, False, at, window_end=at + NEGATIVE_WINDOW_S, kind=k)
            for fam in ("vital.spo2.low", "news2")
        ]
    if k == "bed_exit":
        return [_bed_exit_label(spec, r, e, emitted.occupied, config)]
    if k == "zone_exit":
        positive = (
            config.wandering.condition in r.profile.conditions
            and not config.wandering.allowed.contains(ts, r.profile.timezone)
        )
        return [_label(spec, r, "wandering", positive, at, window_end=at + 1800, kind=k)]
    if k in ("device_offline", "battery_death"):
        return _device_gone_labels(spec, r, e, emitted.last_seen, config)
    if k == "wear_off":
        duration = parse_duration(param(e, "duration", "10m"))
        grace = config.devices.wear_off_grace_s
        positive = duration > grace
        return [
            _label(
                spec,
                r,
                "device.wear_off",
                positive,
                at,
                detectable=ts + timedelta(seconds=grace),
                window_end=at + duration + 600,
                kind=k,
            )
        ]
    if k == "sos":
        return [_label(spec, r, "sos", True, at, window_end=at + 300, kind=k)]
    return []


def _bed_exit_label(
    spec: ScenarioSpec,
    r: ResidentPlan,
    e: EventSpec,
    occupied: Sequence[Vital],
    config: RulesConfig,
) -> Label:
    at, k = e.at_s, e.kind
    ts = spec.start + timedelta(seconds=at)
    away = param(e, "away")
    watched = r.profile.fall_risk
    night = config.bed.night.contains(ts, r.profile.timezone)
    limit = config.bed.return_within_s
    if (away is not None and parse_duration(away) < limit) or not (watched and night):
        return _label(
            spec,
            r,
            "bed.exit_night",
            False,
            at,
            window_end=at + (parse_duration(away) if away is not None else 0) + 1800,
            kind=k,
        )
    left_at = _out_of_bed_since(occupied, ts)
    due = left_at + timedelta(seconds=limit)
    return _label(
        spec,
        r,
        "bed.exit_night",
        True,
        at,
        detectable=due,
        window_end=at + limit + 1800,
        kind=k,
    )


def _device_gone_labels(
    spec: ScenarioSpec,
    r: ResidentPlan,
    e: EventSpec,
    last_seen: dict[str, list[datetime]],
    config: RulesConfig,
) -> list[Label]:
    """A device offline or with a dead battery: offline once silent for the rule's time (or
    at once, with a last will), and a low battery before it dies."""
    at, k = e.at_s, e.kind
    start = spec.start
    out: list[Label] = []
    device = r.bed if param(e, "device", "wearable") == "bed" else r.wearable
    assert device is not None
    if k == "device_offline":
        gone = at
        back = at + parse_duration(param(e, "duration", "30m"))
        lwt = bool(param(e, "lwt", False))
    else:
        gone = at + parse_duration(param(e, "drain", "3h"))
        back = math.inf
        lwt = False
        first_low = _first_low(r, device, at, gone, spec, config.devices.battery_low)
        if first_low is not None:
            out.append(
                _label(
                    spec,
                    r,
                    "device.battery_low",
                    True,
                    at,
                    detectable=first_low,
                    window_end=gone + 600,
                    kind=k,
                )
            )
    if lwt:
        detect = start + timedelta(seconds=gone)
    else:
        before = [s for s in last_seen.get(device, []) if s < start + timedelta(seconds=gone)]
        silent_from = before[-1] if before else start
        detect = silent_from + timedelta(seconds=config.devices.silence_s)
    positive = detect < start + timedelta(seconds=min(back, spec.duration_s))
    out.append(
        _label(
            spec,
            r,
            "device.offline",
            positive,
            gone,
            detectable=detect,
            window_end=min(back, spec.duration_s) + 600,
            kind=k,
        )
    )
    return out


def _out_of_bed_since(occupied: Sequence[Vital], at: datetime) -> datetime:
    """Start of the run of "not in bed" readings that `at` falls in (a resident already up
    for the toilet when the scenario's exit starts left then)."""
    since = at
    for v in occupied:
        if v.ts > at:
            break
        if v.value >= 0.5:
            since = at
        elif since == at:
            since = v.ts
    return since


def _first_low(
    r: ResidentPlan, device: str, t0: float, t1: float, spec: ScenarioSpec, low: float
) -> datetime | None:
    for t in np.arange(r.phase_s + 1, spec.duration_s, STATUS_EVERY_S).tolist():
        if t0 <= t < t1:
            level = battery_level(r, device, t, spec)
            if level is not None and level <= low:
                return spec.start + timedelta(seconds=t)
    return None


def _vital_labels(
    spec: ScenarioSpec,
    r: ResidentPlan,
    vitals: Sequence[Vital],
    at: float,
    until: float,
    kind: str,
    config: RulesConfig,
) -> list[Label]:
    start = spec.start
    t0 = start + timedelta(seconds=at)
    t1 = min(start + timedelta(seconds=until), spec.end)
    subject = r.profile.subject
    out: list[Label] = []
    inside = [v for v in vitals if t0 <= v.ts <= t1]
    vc = config.vitals
    for metric in VITAL_SIGNS:
        limits = (
            vc.spo2_scale2 if metric == "spo2" and uses_scale2(r.profile) else getattr(vc, metric)
        )
        readings = sorted((v for v in inside if v.metric == metric), key=lambda v: v.ts)
        gap = limits.max_gap_s or vc.max_gap_s
        for side, limit in (("low", limits.low), ("high", limits.high)):
            if limit is None:
                continue
            onset = limit_onset(readings, limit, side == "low", gap, vc.spot_sources)
            if onset is not None:
                out.append(
                    Label(spec.name, subject, f"vital.{metric}.{side}", True, t0, onset, t1, kind)
                )
    fever = fever_onset([v for v in inside if v.metric == "temp"], config)
    if fever is not None:
        out.append(Label(spec.name, subject, "fever", True, t0, fever, t1, kind))
    news2 = news2_onset(r, vitals, t0, t1, config)
    if news2 is not None:
        when, severity, first_touch = news2
        out.append(
            Label(
                spec.name,
                subject,
                "news2",
                True,
                t0,
                when,
                t1,
                kind,
                severity,
                "NEWS2 >= 5" if severity == "high" else "NEWS2 alert band (single 3)",
                first_touch,
            )
        )
    return out


def cluster_labels(
    spec: ScenarioSpec,
    residents: Sequence[ResidentPlan],
    labels: Sequence[Label],
    config: RulesConfig,
) -> list[Label]:
    """Unit-level truth: K residents of a unit with fever onsets within the window."""
    oc = config.outbreak
    window = timedelta(seconds=oc.window_s)
    by_unit: dict[tuple[str, str], list[datetime]] = {}
    rid_unit = {r.profile.subject: (r.profile.site_id, r.profile.unit_id) for r in residents}
    for lab in labels:
        if lab.family == "fever" and lab.positive:
            by_unit.setdefault(rid_unit[lab.subject], []).append(lab.detectable_at)
    out: list[Label] = []
    for (site, unit), onsets in sorted(by_unit.items()):
        onsets.sort()
        subject = unit_subject(site, unit)
        when = next(
            (
                t
                for i, t in enumerate(onsets)
                if i + 1 >= oc.min_residents and t - onsets[i + 1 - oc.min_residents] <= window
            ),
            None,
        )
        if when is None:
            out.append(
                Label(
                    spec.name,
                    subject,
                    "outbreak.fever_cluster",
                    False,
                    onsets[0],
                    onsets[0],
                    spec.end,
                    "fever",
                    note=f"{len(onsets)} fever onsets, never {oc.min_residents} within the window",
                )
            )
        else:
            out.append(
                Label(
                    spec.name,
                    subject,
                    "outbreak.fever_cluster",
                    True,
                    onsets[0],
                    when,
                    spec.end,
                    "fever",
                )
            )
    return out
