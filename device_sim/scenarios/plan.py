"""Each resident's plan: the scripted events worked out, before generation, into what their
streams need (fast cadence, value modifiers, silences, motion, device events)."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from device_sim.motion import ADL_KINDS, FALL_KINDS
from device_sim.scenarios.spec import (
    EventSpec,
    ResidentSpec,
    ScenarioError,
    ScenarioSpec,
    parse_duration,
)
from rules.types import ResidentProfile

HEARTBEAT_S: Final = 60.0  # protocol v1: a status at least this often when nothing else is sent
FAST_MARGIN_S: Final = (600.0, 1800.0)  # fast cadence from before an event until after it


@dataclass(slots=True)
class ResidentPlan:
    """Everything one resident's stream needs, worked out from the spec before generation."""

    rid: int
    spec: ResidentSpec
    profile: ResidentProfile
    seed: tuple[int, ...]
    events: list[EventSpec]
    wearable: str | None
    bed: str | None
    phase_s: float
    fast: list[tuple[float, float]] = field(default_factory=list)  # offsets, s
    modifiers: list[Callable[[float, dict[str, float]], None]] = field(default_factory=list)
    occupancy: list[tuple[float, float, bool]] = field(default_factory=list)
    silent: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    battery: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # t0, from, t1
    motion: list[tuple[float, str, bool]] = field(default_factory=list)  # at, kind, at=impact
    device_events: list[tuple[float, str, str, str | None]] = field(default_factory=list)
    statuses: list[tuple[float, str, bool]] = field(default_factory=list)  # extra: at, dev, on
    extra_bed: list[float] = field(default_factory=list)
    quiet: list[tuple[float, float]] = field(default_factory=list)  # no daily activities


def plan_residents(spec: ScenarioSpec, seed: int) -> list[ResidentPlan]:
    by_key: dict[str, list[EventSpec]] = {}
    for e in spec.events:
        by_key.setdefault(e.resident, []).append(e)
    name_hash = zlib.crc32(spec.name.encode())
    out: list[ResidentPlan] = []
    for i, rs in enumerate(spec.residents):
        rid = i + 1
        profile = ResidentProfile(
            resident_id=rid,
            site_id=rs.site,
            unit_id=rs.unit,
            conditions=rs.conditions,
            fall_risk=rs.fall_risk,
            news2_scale=rs.news2_scale,
        )
        r = ResidentPlan(
            rid=rid,
            spec=rs,
            profile=profile,
            seed=(seed, name_hash, rid),
            events=by_key.get(rs.key, []),
            wearable=f"w-{rid}" if rs.wearable else None,
            bed=f"b-{rid}" if rs.bed_sensor else None,
            phase_s=float((rid * 7) % 60),
        )
        for e in r.events:
            _apply_event(r, e, spec)
        out.append(r)
    return out


def param(e: EventSpec, name: str, default: Any = None) -> Any:
    return e.params.get(name, default)


def _envelope(at: float, ramp: float, hold: float, recover: float) -> Callable[[float], float]:
    """0 before `at`, rising linearly to 1 over `ramp`, held, back to 0 over `recover`."""

    def f(t: float) -> float:
        x = t - at
        if x <= 0:
            return 0.0
        if x < ramp:
            return x / ramp if ramp > 0 else 1.0
        x -= ramp
        if x < hold:
            return 1.0
        x -= hold
        if x < recover:
            return 1.0 - x / recover
        return 0.0

    return f


def event_end(e: EventSpec) -> float:
    """Offset where a vital-sign event is over."""
    return e.at_s + sum(
        parse_duration(param(e, k, 0)) for k in ("ramp", "hold", "recover", "duration")
    )


def _apply_event(r: ResidentPlan, e: EventSpec, spec: ScenarioSpec) -> None:
    kind = e.kind
    if kind in ("fall", "near_fall", "adl"):
        _plan_motion(r, e, spec)
    elif kind in ("hypoxia", "deterioration", "spo2_artifact"):
        _plan_vital_change(r, e, spec)
    elif kind == "fever":
        env = _envelope(
            e.at_s,
            parse_duration(param(e, "ramp", "3h")),
            parse_duration(param(e, "hold", "12h")),
            parse_duration(param(e, "recover", "6h")),
        )
        r.modifiers.append(_toward("temp", float(param(e, "temp", 38.4)), env))
    elif kind == "bed_exit":
        at, away = e.at_s, param(e, "away")
        back = spec.duration_s if away is None else at + parse_duration(away)
        r.occupancy.append((at, back, False))
        r.occupancy.append((back, back + 1800, True))
        r.extra_bed += [at, back]
    elif kind == "zone_exit":
        if r.wearable is None:
            raise ScenarioError(f"{spec.name}: zone_exit needs a wearable ({r.spec.key})")
        zone = str(param(e, "zone", "ward"))
        r.device_events.append((e.at_s, r.wearable, "zone_exit", zone))
        away = param(e, "away")
        if away is not None:
            r.device_events.append((e.at_s + parse_duration(away), r.wearable, "zone_enter", zone))
    elif kind in ("device_offline", "battery_death", "wear_off"):
        _plan_device_trouble(r, e, spec)
    elif kind == "sos":
        if r.wearable is None:
            raise ScenarioError(f"{spec.name}: sos needs a wearable ({r.spec.key})")
        r.device_events.append((e.at_s, r.wearable, "sos", None))


def _plan_motion(r: ResidentPlan, e: EventSpec, spec: ScenarioSpec) -> None:
    """A fall, a near fall or an activity: a motion recording with its impact at the event."""
    at, kind = e.at_s, e.kind
    if r.wearable is None:
        raise ScenarioError(f"{spec.name}: {kind} needs a wearable ({r.spec.key})")
    motion = str(param(e, "motion", "fall_forward" if kind == "fall" else "sit_down_hard"))
    if kind == "fall" and motion not in FALL_KINDS:
        raise ScenarioError(f"{spec.name}: {motion!r} is not a fall kind")
    if kind != "fall" and motion not in ADL_KINDS:
        raise ScenarioError(f"{spec.name}: {motion!r} is not an activity kind")
    r.motion.append((at, motion, True))
    r.quiet.append((at - 600, at + (3600 if kind == "fall" else 600)))
    if kind == "fall" and param(e, "device_event", False):
        delay = parse_duration(param(e, "device_event_delay", 45))
        r.device_events.append((at + delay, r.wearable, "fall", None))


def _plan_vital_change(r: ResidentPlan, e: EventSpec, spec: ScenarioSpec) -> None:
    """Hypoxia, a deterioration or an SpO2 artefact: modified values at a fast cadence."""
    at, kind = e.at_s, e.kind
    end = event_end(e)
    r.fast.append((at - FAST_MARGIN_S[0], end + FAST_MARGIN_S[1]))
    r.quiet.append((at - 120, at + 120))
    if kind == "hypoxia":
        env = _envelope(
            at,
            parse_duration(param(e, "ramp", 60)),
            parse_duration(param(e, "hold", 300)),
            parse_duration(param(e, "recover", 120)),
        )
        target = float(param(e, "spo2", 86))
        r.modifiers.append(_toward("spo2", target, env))
    elif kind == "deterioration":
        env = _envelope(
            at,
            parse_duration(param(e, "ramp", "4h")),
            parse_duration(param(e, "hold", "1h")),
            parse_duration(param(e, "recover", 0)),
        )
        deltas = {m: float(v) for m, v in dict(param(e, "deltas", {})).items()}
        r.modifiers.append(_shift(deltas, env))
    else:
        duration = parse_duration(param(e, "duration", 10))
        if duration >= 15:
            raise ScenarioError(f"{spec.name}: an SpO2 artefact is a dip under 15 s")
        r.modifiers.append(_dip("spo2", float(param(e, "spo2", 84)), at, at + duration))
        if r.wearable is not None:
            r.motion.append((at - 4.0, "walk", False))


def _plan_device_trouble(r: ResidentPlan, e: EventSpec, spec: ScenarioSpec) -> None:
    """A device offline, its battery dying, or a wearable taken off: silences and statuses."""
    at, kind = e.at_s, e.kind
    device = r.bed if param(e, "device", "wearable") == "bed" else r.wearable
    if device is None:
        raise ScenarioError(f"{spec.name}: {kind} on a device {r.spec.key} does not have")
    if kind == "device_offline":
        end = at + parse_duration(param(e, "duration", "30m"))
        r.silent.setdefault(device, []).append((at, end))
        if param(e, "lwt", False):
            r.statuses.append((at, device, False))
        r.statuses.append((end, device, True))
        r.quiet.append((at, end))
    elif kind == "battery_death":
        dead = at + parse_duration(param(e, "drain", "3h"))
        r.battery[device] = (at, float(param(e, "battery", 25)), dead)
        r.silent.setdefault(device, []).append((dead, math.inf))
        r.quiet.append((dead, math.inf))
    else:
        end = at + parse_duration(param(e, "duration", "10m"))
        r.device_events.append((at, device, "wear_off", None))
        r.device_events.append((end, device, "wear_on", None))
        r.silent.setdefault(device + ":vitals", []).append((at, end))
        r.quiet.append((at, end))
        # Off the wrist it has no vitals to send, only the protocol's status heartbeat.
        beat = at + HEARTBEAT_S
        while beat < end:
            r.statuses.append((beat, device, True))
            beat += HEARTBEAT_S


def _toward(
    metric: str, target: float, env: Callable[[float], float]
) -> Callable[[float, dict[str, float]], None]:
    def apply(t: float, v: dict[str, float]) -> None:
        k = env(t)
        if k > 0 and metric in v:
            base = v[f"_{metric}_baseline"]
            v[metric] += k * (target - base)

    return apply


def _shift(
    deltas: Mapping[str, float], env: Callable[[float], float]
) -> Callable[[float, dict[str, float]], None]:
    def apply(t: float, v: dict[str, float]) -> None:
        k = env(t)
        if k > 0:
            for metric, delta in deltas.items():
                if metric in v:
                    v[metric] += k * delta

    return apply


def _dip(
    metric: str, value: float, start: float, end: float
) -> Callable[[float, dict[str, float]], None]:
    def apply(t: float, v: dict[str, float]) -> None:
        if start <= t < end and metric in v:
            v[metric] = value

    return apply
