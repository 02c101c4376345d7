"""Labelled scenarios for measuring detection: a spec (from a YAML file), a deterministic
generator of the observations the rules would see, and the ground truth they should find.

Pure: no clock, no I/O except reading spec files; all randomness comes from the seed.
Labels say what a rule family must raise (positive) or must not raise (negative) for a
subject between `onset` and `window_end`. Where the rules need the data to persist first,
`detectable_at` is computed from the emitted values themselves (NEWS2 with
`rules.news2.compute_news2`, thresholds with their persistence), never from the event's intent.
"""

from __future__ import annotations

import heapq
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from device_sim.motion import ADL_KINDS, FALL_KINDS, Placement, Recording
from device_sim.motion import generate as generate_motion
from device_sim.physiology import ResidentState, bed_at, new_resident, vitals_at
from rules.engine import RulesConfig
from rules.news2 import PARAMETERS, compute_news2
from rules.types import (
    SEVERITY_ORDER,
    DeviceEvent,
    DeviceStatus,
    Motion,
    Observation,
    ResidentProfile,
    Severity,
    Vital,
    resident_subject,
    unit_subject,
)
from rules.vitals import uses_scale2
from rules.vitals_config import Limit

LIBRARY: Final = Path(__file__).resolve().parent / "library"
Split = Literal["tune", "heldout"]
SPLITS: Final[tuple[Split, ...]] = get_args(Split)
EventKind = Literal[
    "fall",
    "near_fall",
    "adl",
    "hypoxia",
    "deterioration",
    "fever",
    "spo2_artifact",
    "bed_exit",
    "zone_exit",
    "device_offline",
    "battery_death",
    "wear_off",
    "sos",
]
EVENT_KINDS: Final[tuple[str, ...]] = get_args(EventKind)

MOTION_HZ: Final = 50.0
MOTION_WINDOW_S: Final = 2.0
VITALS_EVERY_S: Final = 60.0  # hr, spo2, rr, temp from the wearable
FAST_EVERY_S: Final = 5.0  # hr, spo2, rr around vital-sign events
BP_EVERY_S: Final = 900.0  # cuffless blood pressure, normally
BP_FAST_EVERY_S: Final = 300.0
BED_EVERY_S: Final = 60.0
STATUS_EVERY_S: Final = 600.0
HEARTBEAT_S: Final = 60.0  # protocol v1: a status at least this often when nothing else is sent
ROUNDS: Final = (time(8, 0), time(20, 0))  # manual ACVPU, BP, temperature
ADL_HOURS: Final = (7.0, 21.5)  # local hours in which daily activities are spread
ADL_GAP_MIN: Final = (40.0, 90.0)  # minutes between two daily activities
DAILY_ADLS: Final = ("walk", "walk", "sit_down", "bend", "lie_down_slow", "sit_down_hard")
FAST_MARGIN_S: Final = (600.0, 1800.0)  # fast cadence from before an event until after it
NEGATIVE_WINDOW_S: Final = 600.0
CHARGE_AT: Final = time(10, 0)  # wearables go on the charger during the morning wash
DRAIN_PER_H: Final = 1.5

_DURATION = re.compile(
    r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?"
    r"(?:(\d+(?:\.\d+)?)s)?$"
)


class ScenarioError(ValueError):
    """A scenario file that cannot be loaded or generated (the message says where)."""


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like "90s", "15m", "2h30m", "1d6h"."""
    if isinstance(value, bool):
        raise ScenarioError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value.strip())
        if m and any(m.groups()):
            d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
            return d * 86400 + h * 3600 + mi * 60 + s
    raise ScenarioError(f"not a duration: {value!r} (e.g. 90, '90s', '15m', '2h30m', '1d')")


# --- the spec ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResidentSpec:
    key: str
    site: str = "site-a"
    unit: str = "unit-1"
    fall_risk: bool = False
    conditions: frozenset[str] = frozenset()
    news2_scale: Literal[1, 2] = 1
    wearable: bool = True
    bed_sensor: bool = True
    placement: Placement = "waist"


@dataclass(frozen=True, slots=True)
class EventSpec:
    at_s: float  # offset from the scenario start
    resident: str  # a resident key
    kind: EventKind
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    name: str
    split: Split
    start: datetime  # aware
    duration_s: float
    residents: tuple[ResidentSpec, ...]
    events: tuple[EventSpec, ...] = ()
    seed: int = 0
    description: str = ""
    daily_adls: bool = True  # spread everyday activities over waking hours (motion windows)
    tick_s: float = 1.0  # the replay's tick cadence (simulated seconds)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)


def spec_from_dict(data: Mapping[str, Any]) -> ScenarioSpec:
    """A spec from parsed YAML. A resident entry with `count: N` stands for N residents
    keyed `<key>1`..`<key>N`."""
    try:
        name = str(data["name"])
        split = data.get("split", "tune")
        if split not in SPLITS:
            raise ScenarioError(f"{name}: split must be one of {SPLITS}, got {split!r}")
        start = data["start"]
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        if not isinstance(start, datetime) or start.utcoffset() is None:
            raise ScenarioError(f"{name}: start must be an aware date-time, got {start!r}")
        start = start.astimezone(ZoneInfo("Asia/Shanghai"))
        residents: list[ResidentSpec] = []
        for entry in data["residents"]:
            residents += _residents(dict(entry))
        keys = [r.key for r in residents]
        if len(set(keys)) != len(keys):
            raise ScenarioError(f"{name}: duplicate resident keys")
        events = tuple(_event(dict(e), set(keys), name) for e in data.get("events") or ())
        return ScenarioSpec(
            name=name,
            split=split,
            start=start,
            duration_s=parse_duration(data["duration"]),
            residents=tuple(residents),
            events=tuple(sorted(events, key=lambda e: e.at_s)),
            seed=int(data.get("seed", 0)),
            description=str(data.get("description", "")),
            daily_adls=bool(data.get("daily_adls", True)),
            tick_s=float(data.get("tick_s", 1.0)),
        )
    except (KeyError, TypeError) as exc:
        raise ScenarioError(f"{data.get('name', '?')}: bad scenario: {exc!r}") from exc


def _residents(entry: dict[str, Any]) -> list[ResidentSpec]:
    count = int(entry.pop("count", 0))
    key = str(entry.pop("key"))
    conditions = frozenset(str(c) for c in entry.pop("conditions", ()) or ())
    placement = entry.pop("placement", "waist")
    if placement not in ("waist", "wrist"):
        raise ScenarioError(f"resident {key}: placement must be waist or wrist")
    scale = int(entry.pop("news2_scale", 1))
    if scale not in (1, 2):
        raise ScenarioError(f"resident {key}: news2_scale must be 1 or 2")
    kwargs: dict[str, Any] = dict(
        conditions=conditions, placement=placement, news2_scale=scale, **entry
    )
    if not count:
        return [ResidentSpec(key=key, **kwargs)]
    return [ResidentSpec(key=f"{key}{i}", **kwargs) for i in range(1, count + 1)]


def _event(entry: dict[str, Any], keys: set[str], name: str) -> EventSpec:
    kind = entry.pop("kind")
    if kind not in EVENT_KINDS:
        raise ScenarioError(f"{name}: unknown event kind {kind!r}")
    resident = str(entry.pop("resident"))
    if resident not in keys:
        raise ScenarioError(f"{name}: event for unknown resident {resident!r}")
    at_s = parse_duration(entry.pop("at"))
    return EventSpec(at_s=at_s, resident=resident, kind=kind, params=entry)


def load_spec(path: Path) -> ScenarioSpec:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: not a mapping")
    return spec_from_dict(data)


def load_library(directory: Path = LIBRARY, *, split: Split | None = None) -> list[ScenarioSpec]:
    specs = [load_spec(p) for p in sorted(directory.glob("*.yaml"))]
    return [s for s in specs if split is None or s.split == split]


# --- ground truth ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Label:
    """What a rule family must (positive) or must not (negative) raise for `subject` within
    [onset, window_end]. `detectable_at`: when the emitted data first support detection
    (latency is measured from it). `min_severity`: a positive counts as detected only by a
    raise or update at least this severe (NEWS2 >= 5 is "high")."""

    scenario: str
    subject: str
    family: str
    positive: bool
    onset: datetime
    detectable_at: datetime
    window_end: datetime
    kind: str  # the event kind it comes from
    min_severity: Severity | None = None
    note: str = ""
    # NEWS2 >= 5 only: the first instant the score reached 5. A slowly rising, noisy score
    # crosses 5 and falls back several times before it holds; `detectable_at` is the start of
    # the first run that lasts the rule's persistence (the same standard as thresholds).
    first_touch_at: datetime | None = None


# --- generation --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Resident:
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


@dataclass(frozen=True, slots=True)
class Scenario:
    """A generated scenario. `observations()` replays the same stream on every call (it is
    regenerated, not stored: a ward's week is millions of readings)."""

    spec: ScenarioSpec
    seed: int
    profiles: tuple[ResidentProfile, ...]
    labels: tuple[Label, ...]
    _residents: tuple[_Resident, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def start(self) -> datetime:
        return self.spec.start

    @property
    def end(self) -> datetime:
        return self.spec.end

    @property
    def resident_days(self) -> float:
        return len(self.profiles) * self.spec.duration_s / 86400

    def observations(self) -> Iterator[tuple[int, Observation]]:
        """Every observation of every resident, in timestamp order."""
        streams = [_keyed(r, self.spec) for r in self._residents]
        for _ts, rid, _n, obs in heapq.merge(*streams, key=lambda x: (x[0], x[1], x[2])):
            yield rid, obs


def _keyed(r: _Resident, spec: ScenarioSpec) -> Iterator[tuple[datetime, int, int, Observation]]:
    for n, obs in enumerate(_stream(r, spec)):
        yield obs.ts, r.rid, n, obs


def generate(spec: ScenarioSpec, seed: int | None = None) -> Scenario:
    """The scenario's residents, its (lazy) observation stream and its labels. Same spec and
    seed: the same observations and labels."""
    seed = spec.seed if seed is None else seed
    residents = _plan(spec, seed)
    labels: list[Label] = []
    config = RulesConfig()
    for r in residents:
        # Every resident: the physiology alone may make a real event (a long night absence,
        # a sustained NEWS2 of 5) that no script asked for.
        labels += _labels(spec, r, config)
    labels += _cluster_labels(spec, residents, labels, config)
    return Scenario(
        spec=spec,
        seed=seed,
        profiles=tuple(r.profile for r in residents),
        labels=tuple(sorted(labels, key=lambda lab: (lab.onset, lab.subject, lab.family))),
        _residents=tuple(residents),
    )


def _plan(spec: ScenarioSpec, seed: int) -> list[_Resident]:
    by_key: dict[str, list[EventSpec]] = {}
    for e in spec.events:
        by_key.setdefault(e.resident, []).append(e)
    name_hash = zlib.crc32(spec.name.encode())
    out: list[_Resident] = []
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
        r = _Resident(
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


def _p(e: EventSpec, name: str, default: Any = None) -> Any:
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


def _event_end(e: EventSpec) -> float:
    """Offset where a vital-sign event is over."""
    return e.at_s + sum(
        parse_duration(_p(e, k, 0)) for k in ("ramp", "hold", "recover", "duration")
    )


def _apply_event(r: _Resident, e: EventSpec, spec: ScenarioSpec) -> None:
    at = e.at_s
    kind = e.kind
    if kind in ("fall", "near_fall", "adl"):
        if r.wearable is None:
            raise ScenarioError(f"{spec.name}: {kind} needs a wearable ({r.spec.key})")
        motion = str(_p(e, "motion", "fall_forward" if kind == "fall" else "sit_down_hard"))
        if kind == "fall" and motion not in FALL_KINDS:
            raise ScenarioError(f"{spec.name}: {motion!r} is not a fall kind")
        if kind != "fall" and motion not in ADL_KINDS:
            raise ScenarioError(f"{spec.name}: {motion!r} is not an activity kind")
        r.motion.append((at, motion, True))
        r.quiet.append((at - 600, at + (3600 if kind == "fall" else 600)))
        if kind == "fall" and _p(e, "device_event", False):
            delay = parse_duration(_p(e, "device_event_delay", 45))
            r.device_events.append((at + delay, r.wearable, "fall", None))
    elif kind in ("hypoxia", "deterioration", "spo2_artifact"):
        end = _event_end(e)
        r.fast.append((at - FAST_MARGIN_S[0], end + FAST_MARGIN_S[1]))
        r.quiet.append((at - 120, at + 120))
        if kind == "hypoxia":
            env = _envelope(
                at,
                parse_duration(_p(e, "ramp", 60)),
                parse_duration(_p(e, "hold", 300)),
                parse_duration(_p(e, "recover", 120)),
            )
            target = float(_p(e, "spo2", 86))
            r.modifiers.append(_toward("spo2", target, env))
        elif kind == "deterioration":
            env = _envelope(
                at,
                parse_duration(_p(e, "ramp", "4h")),
                parse_duration(_p(e, "hold", "1h")),
                parse_duration(_p(e, "recover", 0)),
            )
            deltas = {m: float(v) for m, v in dict(_p(e, "deltas", {})).items()}
            r.modifiers.append(_shift(deltas, env))
        else:
            duration = parse_duration(_p(e, "duration", 10))
            if duration >= 15:
                raise ScenarioError(f"{spec.name}: an SpO2 artefact is a dip under 15 s")
            r.modifiers.append(_dip("spo2", float(_p(e, "spo2", 84)), at, at + duration))
            if r.wearable is not None:
                r.motion.append((at - 4.0, "walk", False))
    elif kind == "fever":
        env = _envelope(
            at,
            parse_duration(_p(e, "ramp", "3h")),
            parse_duration(_p(e, "hold", "12h")),
            parse_duration(_p(e, "recover", "6h")),
        )
        r.modifiers.append(_toward("temp", float(_p(e, "temp", 38.4)), env))
    elif kind == "bed_exit":
        away = _p(e, "away")
        back = spec.duration_s if away is None else at + parse_duration(away)
        r.occupancy.append((at, back, False))
        r.occupancy.append((back, back + 1800, True))
        r.extra_bed += [at, back]
    elif kind == "zone_exit":
        if r.wearable is None:
            raise ScenarioError(f"{spec.name}: zone_exit needs a wearable ({r.spec.key})")
        zone = str(_p(e, "zone", "ward"))
        r.device_events.append((at, r.wearable, "zone_exit", zone))
        away = _p(e, "away")
        if away is not None:
            r.device_events.append((at + parse_duration(away), r.wearable, "zone_enter", zone))
    elif kind in ("device_offline", "battery_death", "wear_off"):
        device = r.bed if _p(e, "device", "wearable") == "bed" else r.wearable
        if device is None:
            raise ScenarioError(f"{spec.name}: {kind} on a device {r.spec.key} does not have")
        if kind == "device_offline":
            end = at + parse_duration(_p(e, "duration", "30m"))
            r.silent.setdefault(device, []).append((at, end))
            if _p(e, "lwt", False):
                r.statuses.append((at, device, False))
            r.statuses.append((end, device, True))
            r.quiet.append((at, end))
        elif kind == "battery_death":
            dead = at + parse_duration(_p(e, "drain", "3h"))
            r.battery[device] = (at, float(_p(e, "battery", 25)), dead)
            r.silent.setdefault(device, []).append((dead, math.inf))
            r.quiet.append((dead, math.inf))
        else:
            end = at + parse_duration(_p(e, "duration", "10m"))
            r.device_events.append((at, device, "wear_off", None))
            r.device_events.append((end, device, "wear_on", None))
            r.silent.setdefault(device + ":vitals", []).append((at, end))
            r.quiet.append((at, end))
            # Off the wrist it has no vitals to send, only the protocol's status heartbeat.
            beat = at + HEARTBEAT_S
            while beat < end:
                r.statuses.append((beat, device, True))
                beat += HEARTBEAT_S
    elif kind == "sos":
        if r.wearable is None:
            raise ScenarioError(f"{spec.name}: sos needs a wearable ({r.spec.key})")
        r.device_events.append((at, r.wearable, "sos", None))


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


def _in(intervals: Sequence[tuple[float, float]], t: float) -> bool:
    return any(a <= t < b for a, b in intervals)


# --- the stream --------------------------------------------------------------------------------

_VITALS, _BED, _STATUS, _ROUND, _MOTION, _EVENT = range(6)


def _schedule(
    r: _Resident, spec: ScenarioSpec, rng: np.random.Generator
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
    r: _Resident, spec: ScenarioSpec, rng: np.random.Generator
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
            if 0 <= off < spec.duration_s - 30 and not _in(r.quiet, off):
                out.append((off, kind, False))
        day += timedelta(days=1)


REORDER_S: Final = 120.0  # a motion recording starts before its scheduled impact


def _stream(r: _Resident, spec: ScenarioSpec) -> Iterator[Observation]:
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


def _unordered(r: _Resident, spec: ScenarioSpec) -> Iterator[Observation]:
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
            if _in(wearable_quiet, t):
                continue
            numbers = cast(Mapping[str, float], raw)
            values = {m: float(numbers[m]) for m in ("hr", "spo2", "rr", "temp", "sbp", "dbp")}
            values.update(baselines)
            for modify in r.modifiers:
                modify(t, values)
            fast = _in(r.fast, t)
            on_grid = abs((t - r.phase_s) % VITALS_EVERY_S) < 1e-6
            bp_every = BP_FAST_EVERY_S if fast else BP_EVERY_S
            on_bp = abs((t - r.phase_s) % bp_every) < 1e-6
            for metric in ("hr", "spo2", "rr", "temp", "sbp", "dbp"):
                if metric == "temp" and not on_grid:
                    continue
                if metric in ("sbp", "dbp") and not on_bp:
                    continue
                yield Vital(ts, metric, _finish(metric, values[metric]), "vitals", r.wearable)
        elif kind == _BED:
            assert r.bed is not None
            state, bed = bed_at(state, ts, phys_rng)
            if _in(r.silent.get(r.bed, []), t):
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
            if online and _in(r.silent.get(device, []), t):
                continue
            if not online:
                yield DeviceStatus(ts, device, online=False)
                continue
            yield DeviceStatus(ts, device, battery=_battery(r, device, t, spec), online=True)
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
            if _in(r.silent.get(r.wearable, []), t):
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


def _battery(r: _Resident, device: str, t: float, spec: ScenarioSpec) -> float | None:
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


# --- labels ------------------------------------------------------------------------------------


def _labels(spec: ScenarioSpec, r: _Resident, config: RulesConfig) -> list[Label]:
    vitals: list[Vital] = []
    occupied: list[Vital] = []
    last_seen: dict[str, list[datetime]] = {}
    for obs in _stream(r, spec):
        if isinstance(obs, Vital):
            vitals.append(obs)
            if obs.metric == "occupied":
                occupied.append(obs)
        if obs.device_id is not None and not (
            isinstance(obs, DeviceStatus) and obs.online is False
        ):
            last_seen.setdefault(obs.device_id, []).append(obs.ts)
    out: list[Label] = []
    subject = r.profile.subject
    start, end = spec.start, spec.end

    def label(
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
        on = onset if isinstance(onset, datetime) else start + timedelta(seconds=onset)
        until = (
            window_end
            if isinstance(window_end, datetime)
            else start + timedelta(seconds=min(window_end, spec.duration_s))
        )
        return Label(
            spec.name,
            subject,
            family,
            positive,
            on,
            detectable or on,
            min(until, end),
            kind,
            min_severity,
            note,
        )

    for e in r.events:
        at = e.at_s
        ts = start + timedelta(seconds=at)
        k = e.kind
        if k == "fall":
            out.append(
                label("fall", True, at, window_end=at + 900, kind=k, note=str(_p(e, "motion", "")))
            )
        elif k == "near_fall":
            out.append(
                label(
                    "fall",
                    False,
                    at - 10,
                    window_end=at + NEGATIVE_WINDOW_S,
                    kind=k,
                    note=str(_p(e, "motion", "")),
                )
            )
        elif k in ("hypoxia", "deterioration", "fever"):
            until = _event_end(e) + (3600 if k == "fever" else 900)
            out += _vital_labels(spec, r, vitals, at, until, k, config)
        elif k == "spo2_artifact":
            for fam in ("vital.spo2.low", "news2"):
                out.append(label(fam, False, at, window_end=at + NEGATIVE_WINDOW_S, kind=k))
        elif k == "bed_exit":
            away = _p(e, "away")
            watched = r.profile.fall_risk
            night = config.bed.night.contains(ts, r.profile.timezone)
            limit = config.bed.return_within_s
            if (away is not None and parse_duration(away) < limit) or not (watched and night):
                out.append(
                    label(
                        "bed.exit_night",
                        False,
                        at,
                        window_end=at + (parse_duration(away) if away is not None else 0) + 1800,
                        kind=k,
                    )
                )
            else:
                left_at = _out_of_bed_since(occupied, ts)
                due = left_at + timedelta(seconds=limit)
                out.append(
                    label(
                        "bed.exit_night",
                        True,
                        at,
                        detectable=due,
                        window_end=at + limit + 1800,
                        kind=k,
                    )
                )
        elif k == "zone_exit":
            positive = (
                config.wandering.condition in r.profile.conditions
                and not config.wandering.allowed.contains(ts, r.profile.timezone)
            )
            out.append(label("wandering", positive, at, window_end=at + 1800, kind=k))
        elif k in ("device_offline", "battery_death"):
            device = r.bed if _p(e, "device", "wearable") == "bed" else r.wearable
            assert device is not None
            if k == "device_offline":
                gone = at
                back = at + parse_duration(_p(e, "duration", "30m"))
                lwt = bool(_p(e, "lwt", False))
            else:
                gone = at + parse_duration(_p(e, "drain", "3h"))
                back = math.inf
                lwt = False
                first_low = _first_low(r, device, at, gone, spec, config.devices.battery_low)
                if first_low is not None:
                    out.append(
                        label(
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
                before = [
                    s for s in last_seen.get(device, []) if s < start + timedelta(seconds=gone)
                ]
                silent_from = before[-1] if before else start
                detect = silent_from + timedelta(seconds=config.devices.silence_s)
            positive = detect < start + timedelta(seconds=min(back, spec.duration_s))
            out.append(
                label(
                    "device.offline",
                    positive,
                    gone,
                    detectable=detect,
                    window_end=min(back, spec.duration_s) + 600,
                    kind=k,
                )
            )
        elif k == "wear_off":
            duration = parse_duration(_p(e, "duration", "10m"))
            grace = config.devices.wear_off_grace_s
            positive = duration > grace
            out.append(
                label(
                    "device.wear_off",
                    positive,
                    at,
                    detectable=ts + timedelta(seconds=grace),
                    window_end=at + duration + 600,
                    kind=k,
                )
            )
        elif k == "sos":
            out.append(label("sos", True, at, window_end=at + 300, kind=k))
    if r.profile.fall_risk:
        out += _spontaneous_night_exits(spec, r.profile, occupied, out, config)
    out += _spontaneous_news2(spec, r.profile, vitals, out, config)
    return out


def _spontaneous_news2(
    spec: ScenarioSpec,
    profile: ResidentProfile,
    vitals: Sequence[Vital],
    labelled: Sequence[Label],
    config: RulesConfig,
) -> list[Label]:
    """Ground truth the physiology made on its own: a complete NEWS2 of 5 or more held for
    the rule's persistence is medium clinical risk (RCP 2017), scripted or not."""
    hold = timedelta(seconds=config.news2.raise_after_s.medium)
    covered = [(lab.onset, lab.window_end) for lab in labelled if lab.family == "news2"]
    params = set(PARAMETERS)
    latest: dict[str, Vital] = {}
    out: list[Label] = []
    run: datetime | None = None
    labelled_run = False
    for v in vitals:  # in timestamp order (from the stream)
        if v.metric not in params:
            continue
        if v.metric in latest and v.ts < latest[v.metric].ts:
            continue
        latest[v.metric] = v
        result = compute_news2(latest, scale=profile.news2_scale, now=v.ts, config=config.news2)
        if result.total is None or result.total < 5:
            run, labelled_run = None, False
            continue
        run = run or v.ts
        if labelled_run or v.ts - run < hold:
            continue
        labelled_run = True
        if any(on <= run <= until for on, until in covered):
            continue
        out.append(
            Label(
                spec.name,
                profile.subject,
                "news2",
                True,
                run,
                run,
                min(run + timedelta(hours=2), spec.end),
                "spontaneous_news2",
                "high",
                "NEWS2 >= 5",
                run,
            )
        )
    return out


def _spontaneous_night_exits(
    spec: ScenarioSpec,
    profile: ResidentProfile,
    occupied: Sequence[Vital],
    labelled: Sequence[Label],
    config: RulesConfig,
) -> list[Label]:
    """Ground truth the physiology made on its own: a fall-risk resident out of bed at night
    for longer than the rule allows (a long toilet visit, a sleepless hour in the chair) is a
    real event a caregiver should check on, not a false alert."""
    limit = timedelta(seconds=config.bed.return_within_s)
    covered = [(lab.onset, lab.window_end) for lab in labelled if lab.family == "bed.exit_night"]
    out: list[Label] = []
    left: datetime | None = None
    for v in [*occupied, None]:
        if v is not None and v.value < 0.5:
            left = left or v.ts
            continue
        back = v.ts if v is not None else spec.end
        if (
            left is not None
            and back - left >= limit  # the rule pages at exactly the limit
            and config.bed.night.contains(left, profile.timezone)
            and not any(on <= left + limit <= until for on, until in covered)
        ):
            due = left + limit
            out.append(
                Label(
                    spec.name,
                    profile.subject,
                    "bed.exit_night",
                    True,
                    left,
                    due,
                    min(due + timedelta(minutes=30), spec.end),
                    "spontaneous_night_exit",
                )
            )
        left = None
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
    r: _Resident, device: str, t0: float, t1: float, spec: ScenarioSpec, low: float
) -> datetime | None:
    for t in np.arange(r.phase_s + 1, spec.duration_s, STATUS_EVERY_S).tolist():
        if t0 <= t < t1:
            level = _battery(r, device, t, spec)
            if level is not None and level <= low:
                return spec.start + timedelta(seconds=t)
    return None


def _limit_onset(
    readings: Sequence[Vital], limit: Limit, low: bool, max_gap_s: float, spot: frozenset[str]
) -> datetime | None:
    """When the readings first breach `limit` for its persistence (as the rule counts it)."""
    run: datetime | None = None
    last: datetime | None = None
    for v in readings:
        beyond = v.value < limit.threshold if low else v.value > limit.threshold
        if last is not None and (v.ts - last).total_seconds() > max_gap_s:
            run = None
        last = v.ts
        if not beyond:
            run = None
            continue
        if v.source in spot:
            return v.ts
        run = run or v.ts
        if (v.ts - run).total_seconds() >= limit.persistence_s:
            return v.ts
    return None


def _vital_labels(
    spec: ScenarioSpec,
    r: _Resident,
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
    for metric in ("hr", "spo2", "rr", "temp", "sbp", "dbp"):
        limits = (
            vc.spo2_scale2 if metric == "spo2" and uses_scale2(r.profile) else getattr(vc, metric)
        )
        readings = sorted((v for v in inside if v.metric == metric), key=lambda v: v.ts)
        gap = limits.max_gap_s or vc.max_gap_s
        for side, limit in (("low", limits.low), ("high", limits.high)):
            if limit is None:
                continue
            onset = _limit_onset(readings, limit, side == "low", gap, vc.spot_sources)
            if onset is not None:
                out.append(
                    Label(spec.name, subject, f"vital.{metric}.{side}", True, t0, onset, t1, kind)
                )
    fever = _fever_onset([v for v in inside if v.metric == "temp"], config)
    if fever is not None:
        out.append(Label(spec.name, subject, "fever", True, t0, fever, t1, kind))
    news2 = _news2_onset(r, vitals, t0, t1, config)
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


def _fever_onset(temps: Sequence[Vital], config: RulesConfig) -> datetime | None:
    f = config.baseline.fever
    above: list[datetime] = []
    for v in sorted(temps, key=lambda v: v.ts):
        if v.value > f.single_c:
            return v.ts
        if v.value > f.repeated_c:
            above = [t for t in above if (v.ts - t).total_seconds() <= f.repeated_window_s]
            if not above or (v.ts - above[-1]).total_seconds() >= f.repeated_min_gap_s:
                above.append(v.ts)
            if len(above) >= f.repeated_count:
                return v.ts
    return None


def _news2_onset(
    r: _Resident, vitals: Sequence[Vital], t0: datetime, t1: datetime, config: RulesConfig
) -> tuple[datetime, Severity, datetime | None] | None:
    """When the complete NEWS2 from the freshest values first holds 5 or more for the rule's
    medium persistence (severity "high", with the first instant it touched 5), else when it
    first holds an alert band (a single 3 or worse) for the longest persistence ("medium").
    A score that only touches a band for less than its persistence is noise in 1 Hz wearable
    data, not an event: no label (the spontaneous labels use the same standard)."""
    latest: dict[str, Vital] = {}
    params = set(PARAMETERS)
    first_five: datetime | None = None
    five_run: datetime | None = None
    band_run: datetime | None = None
    band_held: datetime | None = None
    hold_five = timedelta(seconds=config.news2.raise_after_s.medium)
    hold_band = timedelta(seconds=config.news2.raise_after_s.low_medium)
    for v in sorted(vitals, key=lambda v: v.ts):
        if v.metric not in params:
            continue
        if v.metric not in latest or v.ts >= latest[v.metric].ts:
            latest[v.metric] = v
        if not t0 <= v.ts <= t1:
            continue
        result = compute_news2(latest, scale=r.profile.news2_scale, now=v.ts, config=config.news2)
        if result.total is None or result.band is None:
            continue
        if result.total >= 5:
            first_five = first_five or v.ts
            five_run = five_run or v.ts
            if v.ts - five_run >= hold_five:
                return five_run, "high", first_five
        else:
            five_run = None
        if result.band == "low":
            band_run = None
            continue
        band_run = band_run or v.ts
        if band_held is None and v.ts - band_run >= hold_band:
            band_held = band_run
    return (band_held, "medium", None) if band_held is not None else None


def _cluster_labels(
    spec: ScenarioSpec, residents: Sequence[_Resident], labels: Sequence[Label], config: RulesConfig
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


def severity_at_least(severity: Severity, minimum: Severity | None) -> bool:
    return minimum is None or SEVERITY_ORDER[severity] >= SEVERITY_ORDER[minimum]


__all__ = [
    "EVENT_KINDS",
    "LIBRARY",
    "SPLITS",
    "EventSpec",
    "Label",
    "ResidentSpec",
    "Scenario",
    "ScenarioError",
    "ScenarioSpec",
    "generate",
    "load_library",
    "load_spec",
    "parse_duration",
    "resident_subject",
    "spec_from_dict",
]
