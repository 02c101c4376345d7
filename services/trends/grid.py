"""The time grid buckets sit on: whole multiples of their width since the Unix epoch (UTC), as
TimescaleDB's `time_bucket` places buckets of a day or less."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def floor_to(ts: datetime, step: timedelta) -> datetime:
    """The start of the bucket of width `step` holding `ts` (timezone-aware `ts` only)."""
    return EPOCH + ((ts - EPOCH) // step) * step


def ceil_to(ts: datetime, step: timedelta) -> datetime:
    """`ts` if it is on the grid, else the start of the next bucket."""
    low = floor_to(ts, step)
    return low if low == ts else low + step
