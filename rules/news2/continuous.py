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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

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


class _Spans(NamedTuple):
    """A configuration's durations as timedeltas, per streamed parameter where they differ."""

    config: News2Config  # kept so that its id is not reused while the entry lives
    keep: Mapping[str, timedelta]
    max_age: Mapping[str, timedelta]
    window: timedelta
    recovery: timedelta
    longest_motion_keep: timedelta


# By the configuration's id: hashing a configuration costs more than the arithmetic it saves.
_SPANS: dict[int, _Spans] = {}
_SPANS_KEPT = 256  # a site has a few configurations; residents' overrides add one each


def _spans(config: News2Config) -> _Spans:
    spans = _SPANS.get(id(config))
    if spans is not None and spans.config is config:
        return spans
    cont = config.continuous
    keep: dict[str, timedelta] = {p: timedelta(seconds=_keep_s(p, config)) for p in cont.parameters}
    spans = _Spans(
        config,
        keep,
        {p: timedelta(seconds=config.max_age_s.for_parameter(p)) for p in cont.parameters},
        timedelta(seconds=cont.window_s),
        timedelta(seconds=cont.motion_recovery_s),
        max((keep[p] for p in cont.motion_parameters), default=timedelta(0)),
    )
    if len(_SPANS) >= _SPANS_KEPT:
        _SPANS.clear()
    _SPANS[id(config)] = spans
    return spans


_ts = attrgetter("ts")
_value = attrgetter("value")


def _median(ordered: list[float]) -> float:
    # statistics.median's arithmetic, on values already sorted (it would sort them again).
    n = len(ordered)
    if n % 2:
        return float(ordered[n // 2])
    return float((ordered[n // 2 - 1] + ordered[n // 2]) / 2)


def _keep_s(parameter: Parameter, config: News2Config) -> float:
    # Enough for the window and for the fallback to a resting reading still in date.
    return max(config.continuous.window_s, config.max_age_s.for_parameter(parameter))


def note_reading(history: DeviceHistory, vital: Vital, *, config: News2Config) -> DeviceHistory:
    """Keep a device reading of a streamed parameter (others are returned unchanged)."""
    cont = config.continuous
    parameter = vital.metric
    if vital.source not in DEVICE_SOURCES or parameter not in cont.parameters:
        return history
    same = history.readings.get(parameter, ())
    ts = vital.ts
    # At most `max_readings`, none older than the horizon; the oldest usually is in date.
    first = max(len(same) + 1 - cont.max_readings, 0)
    if not same or ts >= same[-1].ts:
        # Concatenation: about twice as fast as unpacking into a new tuple here.
        kept = same[first:] + (vital,)  # noqa: RUF005
    else:  # backfill arrives late: keep time order
        at = bisect.bisect_right(same, ts, key=_ts)
        kept = (*same[:at], vital, *same[at:])[first:]
    horizon = kept[-1].ts - _spans(config).keep[parameter]
    if kept[0].ts < horizon:
        kept = kept[bisect.bisect_left(kept, horizon, key=_ts) :]
    readings = dict(history.readings)
    readings[parameter] = kept
    # Built directly: dataclasses.replace on every reading was a sixth of the engine's time.
    return DeviceHistory(readings, history.moving)


def note_motion(
    history: DeviceHistory, start: datetime, end: datetime, *, config: News2Config
) -> DeviceHistory:
    """Record activity from `start` to `end` (a worn motion window that shows movement)."""
    spans = _spans(config)
    recovery = spans.recovery
    intervals = sorted([*history.moving, (start, end)])
    merged: list[Interval] = []
    for s, e in intervals:
        # Two bouts closer than the recovery exclude the same readings as one bout.
        if merged and s <= merged[-1][1] + recovery:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    horizon = merged[-1][1] - spans.longest_motion_keep - recovery
    return DeviceHistory(history.readings, tuple(iv for iv in merged if iv[1] >= horizon))


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
    view = dict(latest)
    until: datetime | None = None
    if not smooths(config):
        return view, until
    for parameter in config.continuous.parameters:
        counted, expires = resting_value(
            parameter, latest.get(parameter), history, now=now, config=config
        )
        if counted is not None:
            view[parameter] = counted
        if expires is not None:
            until = expires if until is None else min(until, expires)
    return view, until


def smooths(config: News2Config) -> bool:
    """Whether a device's stream counts as anything but its freshest reading."""
    cont = config.continuous
    return not (cont.window_s == 0 and cont.motion_recovery_s == 0)


def resting_value(
    parameter: str,
    current: Vital | None,
    history: DeviceHistory,
    *,
    now: datetime,
    config: News2Config,
) -> tuple[Vital | None, datetime | None]:
    """What one streamed parameter whose freshest reading is `current` counts as at `now`
    (None: `current` as it is), and until when that holds (`resting_view_until`). The same
    for any later `now` before then, so a caller may keep it that long."""
    readings = history.readings.get(parameter)
    if current is None or current.source not in DEVICE_SOURCES or not readings:
        return None, None
    cont = config.continuous
    spans = _spans(config)
    max_age = spans.max_age[parameter]
    oldest = now - max_age
    inside = (
        readings
        if readings[0].ts >= oldest
        else readings[bisect.bisect_left(readings, oldest, key=_ts) :]
    )
    if not inside:
        return None, None
    expires = inside[0].ts + max_age
    counted: Sequence[Vital] = inside
    moving = history.moving if cont.motion_recovery_s > 0 else ()
    if moving and parameter in cont.motion_parameters:
        recovery = spans.recovery
        resting = [r for r in inside if not any(s <= r.ts <= e + recovery for s, e in moving)]
        counted = resting or inside
    newest = counted[-1]
    start = newest.ts - spans.window
    if counted[0].ts <= start:  # else the window holds every reading counted
        counted = counted[bisect.bisect_right(counted, start, key=_ts) :]
    value = _median(sorted(map(_value, counted))) if counted else newest.value
    if value != newest.value:
        # Vital's fields, built directly (dataclasses.replace is slow on this path).
        return Vital(newest.ts, newest.metric, value, newest.source, newest.device_id), expires
    return (newest if newest is not current else None), expires
