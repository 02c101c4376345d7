"""When a scheduled visit or round is next due, and whether it is overdue. Pure: `now` is given.

A schedule is due first at its start, then one interval after the last visit done (a visit
done early moves the next one earlier: the interval is between visits)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["Due", "due"]


@dataclass(frozen=True, slots=True)
class Due:
    due_at: datetime
    overdue: bool
    late_by: timedelta  # zero when not overdue


def due(
    *, starts_at: datetime, interval: timedelta, last_done: datetime | None, now: datetime
) -> Due:
    due_at = starts_at if last_done is None else max(last_done + interval, starts_at)
    late = now - due_at
    return Due(due_at, late > timedelta(0), max(late, timedelta(0)))
