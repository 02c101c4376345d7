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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from rules.news2.chart import Parameter
from rules.news2.config import News2Config
from rules.types import Source, Vital

# Sources that stream (the rest are spot values someone took).
DEVICE_SOURCES: frozenset[Source] = frozenset({"vitals", "bed"})

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class DeviceHistory:
    """A resident's recent device readings of each streamed NEWS2 parameter (time order) and
    their recent activity (merged motion intervals, time order). Initial: `DeviceHistory()`."""

    readings: Mapping[str, tuple[Vital, ...]] = field(default_factory=dict)
    moving: tuple[Interval, ...] = ()


def _ts(reading: Vital) -> datetime:
    return reading.ts


def _keep_s(parameter: Parameter, config: News2Config) -> float:
    # Enough for the window and for the fallback to a resting reading still in date.
    return max(config.continuous.window_s, config.max_age_s.for_parameter(parameter))


def note_reading(history: DeviceHistory, vital: Vital, *, config: News2Config) -> DeviceHistory:
    """Keep a device reading of a streamed parameter (others are returned unchanged)."""
    cont = config.continuous
    if vital.source not in DEVICE_SOURCES or vital.metric not in cont.parameters:
        return history
    parameter: Parameter = vital.metric
    same = history.readings.get(parameter, ())
    if not same or vital.ts >= same[-1].ts:
        kept = (*same, vital)
    else:  # backfill arrives late: keep time order
        at = bisect.bisect_right(same, vital.ts, key=_ts)
        kept = (*same[:at], vital, *same[at:])
    horizon = kept[-1].ts - timedelta(seconds=_keep_s(parameter, config))
    first = max(bisect.bisect_left(kept, horizon, key=_ts), len(kept) - cont.max_readings)
    return replace(history, readings={**history.readings, parameter: kept[first:]})


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


def resting_view(
    latest: Mapping[str, Vital], history: DeviceHistory, *, now: datetime, config: News2Config
) -> dict[str, Vital]:
    """`latest` with each streamed parameter whose freshest reading came from a device
    replaced by what the stream counts as (the module docstring): the median, as a Vital
    dated by the newest reading that counted."""
    return resting_view_until(latest, history, now=now, config=config)[0]


def resting_view_until(
    latest: Mapping[str, Vital], history: DeviceHistory, *, now: datetime, config: News2Config
) -> tuple[dict[str, Vital], datetime | None]:
    """`resting_view`, and until when it stays the same if no reading or motion is noted
    (the oldest reading it counted goes out of date then; None: for as long as nothing is)."""
    cont = config.continuous
    view = dict(latest)
    until: datetime | None = None
    if cont.window_s == 0 and cont.motion_recovery_s == 0:
        return view, until
    recovery = timedelta(seconds=cont.motion_recovery_s)
    moving = history.moving if cont.motion_recovery_s > 0 else ()
    for parameter in cont.parameters:
        current = latest.get(parameter)
        readings = history.readings.get(parameter)
        if current is None or current.source not in DEVICE_SOURCES or not readings:
            continue
        oldest = now - timedelta(seconds=config.max_age_s.for_parameter(parameter))
        inside = readings[bisect.bisect_left(readings, oldest, key=_ts) :]
        if not inside:
            continue
        expires = inside[0].ts + (now - oldest)
        until = expires if until is None else min(until, expires)
        counted: Sequence[Vital] = inside
        if moving and parameter in cont.motion_parameters:
            resting = [r for r in inside if not any(s <= r.ts <= e + recovery for s, e in moving)]
            counted = resting or inside
        newest = counted[-1]
        start = newest.ts - timedelta(seconds=cont.window_s)
        values = [r.value for r in counted[bisect.bisect_right(counted, start, key=_ts) :]]
        value = float(statistics.median(values)) if values else newest.value
        if value != newest.value:
            view[parameter] = replace(newest, value=value)
        elif newest is not current:
            view[parameter] = newest
    return view, until
