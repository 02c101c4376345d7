"""What a device's stream counts as in NEWS2 (pure).

RCP 2017 built NEWS2 on observations of a patient at rest, taken by a person who repeats a
reading that looks wrong. A wearable reports every minute whatever the resident does: one
walk to the dining room reads SpO2 88 (the optical sensor moves) and RR 22 (exertion), and a
score from that one reading says "NEWS2 5, urgent review" of a resident who sat down again a
minute later. So, for the parameters a device measures (ContinuousConfig):

- readings taken while the resident's worn motion stream shows activity, or within
  `motion_recovery_s` after it, do not count toward HR, RR and SpO2 while a resting reading
  is still in date (`max_age_s`); with none, all readings count (a resident up and about for
  ten minutes is still scored);
- what counts is the median of those readings over the last `window_s` before the newest,
  dated by the newest (so its freshness is that of the stream).

Manual and FHIR values (a round) count as they are: someone took them at rest.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rules.news2.chart import Parameter
from rules.news2.config import News2Config
from rules.types import Source, Vital

# Sources that stream (the rest are spot values someone took).
DEVICE_SOURCES: frozenset[Source] = frozenset({"vitals", "bed"})

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class DeviceHistory:
    """A resident's recent device readings of the streamed NEWS2 parameters (time order) and
    their recent activity (merged motion intervals, time order). Initial: `DeviceHistory()`."""

    readings: tuple[Vital, ...] = ()
    moving: tuple[Interval, ...] = ()


def _keep_s(parameter: Parameter, config: News2Config) -> float:
    # Enough for the window and for the fallback to a resting reading still in date.
    return max(config.continuous.window_s, config.max_age_s.for_parameter(parameter))


def note_reading(history: DeviceHistory, vital: Vital, *, config: News2Config) -> DeviceHistory:
    """Keep a device reading of a streamed parameter (others are returned unchanged)."""
    cont = config.continuous
    if vital.source not in DEVICE_SOURCES or vital.metric not in cont.parameters:
        return history
    parameter: Parameter = vital.metric
    readings = list(history.readings)
    # Backfill arrives late: keep time order.
    bisect.insort(readings, vital, key=lambda r: r.ts)
    same = [r for r in readings if r.metric == parameter]
    horizon = same[-1].ts - timedelta(seconds=_keep_s(parameter, config))
    kept = [r for r in same if r.ts >= horizon][-cont.max_readings :]
    others = [r for r in readings if r.metric != parameter]
    merged = sorted(others + kept, key=lambda r: r.ts)
    return replace(history, readings=tuple(merged))


def note_motion(
    history: DeviceHistory, start: datetime, end: datetime, *, config: News2Config
) -> DeviceHistory:
    """Record activity from `start` to `end` (a worn motion window that shows movement)."""
    recovery = timedelta(seconds=config.continuous.motion_recovery_s)
    intervals = sorted([*history.moving, (start, end)])
    merged: list[Interval] = []
    for s, e in intervals:
        # Two bouts closer than the recovery exclude the same readings as one bout.
        if merged and s <= merged[-1][1] + recovery:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    longest = max((_keep_s(p, config) for p in config.continuous.motion_parameters), default=0.0)
    horizon = merged[-1][1] - timedelta(seconds=longest) - recovery
    return replace(history, moving=tuple(iv for iv in merged if iv[1] >= horizon))


def _moving(ts: datetime, moving: tuple[Interval, ...], recovery: timedelta) -> bool:
    return any(s <= ts <= e + recovery for s, e in moving)


def resting_view(
    latest: Mapping[str, Vital], history: DeviceHistory, *, now: datetime, config: News2Config
) -> dict[str, Vital]:
    """`latest` with each streamed parameter whose freshest reading came from a device
    replaced by what the stream counts as (the module docstring): the median, as a Vital
    dated by the newest reading that counted."""
    cont = config.continuous
    view = dict(latest)
    if cont.window_s == 0 and cont.motion_recovery_s == 0:
        return view
    recovery = timedelta(seconds=cont.motion_recovery_s)
    for parameter in cont.parameters:
        current = latest.get(parameter)
        if current is None or current.source not in DEVICE_SOURCES:
            continue
        max_age = timedelta(seconds=config.max_age_s.for_parameter(parameter))
        inside = [r for r in history.readings if r.metric == parameter and now - r.ts <= max_age]
        if not inside:
            continue
        counted = inside
        if parameter in cont.motion_parameters and cont.motion_recovery_s > 0:
            resting = [r for r in inside if not _moving(r.ts, history.moving, recovery)]
            counted = resting or inside
        newest = counted[-1]
        start = newest.ts - timedelta(seconds=cont.window_s)
        values = [r.value for r in counted if r.ts > start] or [newest.value]
        view[parameter] = replace(newest, value=float(statistics.median(values)))
    return view
