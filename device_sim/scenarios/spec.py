"""A scenario's spec: residents and scripted events, read from a YAML file of the library
(device_sim/library) or a mapping."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, get_args
from zoneinfo import ZoneInfo

import yaml

from device_sim.motion import Placement

LIBRARY: Final = Path(__file__).resolve().parents[1] / "library"
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
