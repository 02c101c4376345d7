"""Which source answers a trend request, and over which parts of its range: pure.

Short ranges come from raw readings (exact, nothing to wait for). Longer ones come from the
coarsest rollup whose buckets tile the requested bucket: 1-hour rollups for 1h, 6h and 1d
buckets, 1-minute rollups for the others. Minutes with readings the refresh has not folded in
yet are answered from raw, so a trend is as fresh as the raw table; how far back that goes is
capped (`RAW_TAIL_MAX`), so a refresh that fell far behind makes the answer stale, not slow.

The range is widened to whole buckets (start down, end up) so that every bucket holds all its
readings, and buckets sit on the UTC grid (a 1d bucket is a UTC day).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from rules.vocabulary import METRIC_NAMES, MetricName
from services.trends.errors import InvalidQuery
from services.trends.grid import HOUR, MINUTE, ceil_to, floor_to

Bucket = Literal["1m", "5m", "15m", "1h", "6h", "1d"]
BUCKETS: Final[dict[Bucket, timedelta]] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
}
Source = Literal["raw", "rollup_1m", "rollup_1h"]
# What readings carry (rules/vocabulary.py): the vital signs, the bed sensor's, flags as 0/1,
# ACVPU.
Metric = MetricName
METRICS: Final[tuple[Metric, ...]] = METRIC_NAMES

MAX_RANGE: Final = timedelta(days=90)
MAX_POINTS: Final = 2880  # per metric: two days of minutes, 30 days of 15 min, 90 days of hours
AUTO_POINTS: Final = 1000  # no bucket asked for: the finest that stays within this
RAW_MAX_RANGE: Final = timedelta(hours=6)  # at 1 Hz, 21,600 readings per metric at most
RAW_TAIL_MAX: Final = timedelta(hours=6)  # pending minutes answered from raw, back from now


@dataclass(frozen=True, slots=True)
class Plan:
    metrics: tuple[Metric, ...]
    start: datetime  # the requested start, down to the bucket grid
    end: datetime  # the requested end, up to the bucket grid
    bucket: Bucket
    width: timedelta
    source: Source
    points: int  # the most points one metric's series can hold


@dataclass(frozen=True, slots=True)
class Segment:
    """[start, end) answered from `source`; the bounds are on that source's grid."""

    source: Source
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Sources:
    segments: tuple[Segment, ...]
    # Readings from here on that arrived since the last refresh are not in the answer yet.
    stale_from: datetime | None


def plan_query(
    *, metrics: Sequence[str], start: datetime, end: datetime, bucket: str | None
) -> Plan:
    """Validate a request and choose its source. Raises InvalidQuery naming the bad field."""
    wanted = _metrics(metrics)
    for field, ts in (("start", start), ("end", end)):
        if ts.utcoffset() is None:
            raise InvalidQuery(field, "needs a UTC offset, e.g. 2025-03-01T08:00:00Z or +08:00")
    if end <= start:
        raise InvalidQuery("end", f"must be after start ({start.isoformat()})")
    if end - start > MAX_RANGE:
        raise InvalidQuery("end", f"the range is {_days(end - start)}; at most 90 days")
    name = _bucket(bucket, start, end)
    width = BUCKETS[name]
    aligned_start, aligned_end = floor_to(start, width), ceil_to(end, width)
    points = (aligned_end - aligned_start) // width
    if points > MAX_POINTS:
        fits = (b for b, w in BUCKETS.items() if _points(start, end, w) <= MAX_POINTS)
        coarser = next(fits, "1d")
        raise InvalidQuery(
            "bucket",
            f"{name} buckets give {points} points; at most {MAX_POINTS}: use {coarser} or coarser",
        )
    if end - start <= RAW_MAX_RANGE:
        source: Source = "raw"
    elif width % HOUR == timedelta(0):
        source = "rollup_1h"
    else:
        source = "rollup_1m"
    return Plan(wanted, aligned_start, aligned_end, name, width, source, points)


def sources(plan: Plan, *, pending_from: datetime | None, now: datetime) -> Sources:
    """Split the plan's range between its rollup and raw. `pending_from`: the resident's earliest
    minute in the range with readings not yet folded into the rollups (None: none)."""
    if plan.source == "raw":
        return Sources((Segment("raw", plan.start, plan.end),), None)
    cut, stale_from = plan.end, None
    if pending_from is not None:
        cut = max(pending_from, floor_to(now - RAW_TAIL_MAX, MINUTE), plan.start)
        cut = min(cut, plan.end)
        stale_from = pending_from if pending_from < cut else None
    if plan.source == "rollup_1h":
        hour_cut = max(floor_to(cut, HOUR), plan.start)
        parts = [
            Segment("rollup_1h", plan.start, hour_cut),
            Segment("rollup_1m", hour_cut, cut),
            Segment("raw", cut, plan.end),
        ]
    else:
        parts = [Segment("rollup_1m", plan.start, cut), Segment("raw", cut, plan.end)]
    return Sources(tuple(s for s in parts if s.start < s.end), stale_from)


def _metrics(metrics: Sequence[str]) -> tuple[Metric, ...]:
    if not metrics:
        raise InvalidQuery("metric", f"at least one of {', '.join(METRICS)}")
    wanted: list[Metric] = []
    for name in metrics:
        known = next((m for m in METRICS if m == name), None)
        if known is None:
            raise InvalidQuery("metric", f"unknown metric {name!r}; one of {', '.join(METRICS)}")
        if known not in wanted:
            wanted.append(known)
    return tuple(wanted)


def _bucket(bucket: str | None, start: datetime, end: datetime) -> Bucket:
    if bucket is None:
        fits = (b for b, w in BUCKETS.items() if _points(start, end, w) <= AUTO_POINTS)
        return next(fits, "1d")
    known = next((b for b in BUCKETS if b == bucket), None)
    if known is None:
        raise InvalidQuery("bucket", f"unknown bucket {bucket!r}; one of {', '.join(BUCKETS)}")
    return known


def _points(start: datetime, end: datetime, width: timedelta) -> int:
    return (ceil_to(end, width) - floor_to(start, width)) // width


def _days(span: timedelta) -> str:
    return f"{span / timedelta(days=1):g} days"
