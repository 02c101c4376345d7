"""The ingest worker's periodic jobs (retention, rollups) are due at start (issue 13, item 9)."""

from __future__ import annotations

from ingest.worker import Periodic


def test_periodic_is_due_at_once_then_every_period() -> None:
    # A monotonic clock counts from boot: on a host up for less than a period, measuring
    # from 0.0 would skip the first run.
    clock = iter([5.0, 6.0, 3604.0, 3605.0, 7210.0])
    every = Periodic(3600.0, lambda: next(clock))
    assert [every.due() for _ in range(5)] == [True, False, False, True, True]
