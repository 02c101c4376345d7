"""Spans of one resident's metric to rebuild rollups over, and how the refresh groups them: pure.

The refresh turns the minutes noted dirty into spans, rebuilds the 1-minute rollups over them a
UTC day at a time (one day is one raw chunk, so each statement names its chunk by constants),
then the 1-hour rollups over the same spans widened to whole hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.trends.grid import DAY, ceil_to, floor_to


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """[start, end) of one resident's metric."""

    resident_id: int
    metric: str
    start: datetime
    end: datetime


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans of the same resident and metric made one, sorted."""
    merged: list[Span] = []
    for span in sorted(spans):
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.resident_id, last.metric) == (span.resident_id, span.metric)
            and span.start <= last.end
        ):
            merged[-1] = replace(last, end=max(last.end, span.end))
        else:
            merged.append(span)
    return merged


def widen(spans: Iterable[Span], step: timedelta) -> list[Span]:
    """Each span grown to whole buckets of `step`, then merged."""
    return merge(replace(s, start=floor_to(s.start, step), end=ceil_to(s.end, step)) for s in spans)


def by_day(spans: Iterable[Span]) -> list[tuple[datetime, list[Span]]]:
    """The spans cut at UTC midnights and grouped by day, days in order."""
    days: dict[datetime, list[Span]] = {}
    for span in spans:
        start = span.start
        while start < span.end:
            day = floor_to(start, DAY)
            end = min(span.end, day + DAY)
            days.setdefault(day, []).append(replace(span, start=start, end=end))
            start = end
    return sorted(days.items())
