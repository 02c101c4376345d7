"""When a scheduled visit is due and whether it is overdue (services/visits/due.py). Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.visits.due import due

T = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("start", "last", "now", "due_at", "late"),
    [
        (T, None, T - H, T, None),  # not started: due at the start, not late
        (T, None, T + 2 * H, T, 2 * H),  # never done: late since the start
        (T, T + H, T + 12 * H, T + 13 * H, None),  # done: due one interval later
        (T, T + H, T + 14 * H, T + 13 * H, H),
        (T, T - 5 * H, T + H, T + 7 * H, None),  # a visit before the start counts from it
        (T, None, T, T, None),  # due this very moment: not yet late
    ],
    ids=["before-start", "never-done", "done-on-time", "done-then-late", "early-visit", "due-now"],
)
def test_due_and_overdue(
    start: datetime, last: datetime | None, now: datetime, due_at: datetime, late: timedelta | None
) -> None:
    when = due(starts_at=start, interval=12 * H, last_done=last, now=now)
    assert when.due_at == due_at
    assert when.overdue is (late is not None)
    assert when.late_by == (late or timedelta(0))
