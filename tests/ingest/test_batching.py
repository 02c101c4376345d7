"""How the inbox is cut into batches: deadlines from arrival, backlogs in full batches."""

from __future__ import annotations

import queue
import time
from datetime import UTC, datetime

import pytest

from ingest.batching import collect_batch
from ingest.pipeline import Inbound

NOW = 1_800_000_000.0  # the fake wall clock's "now", in epoch seconds


def inbound(arrived_s_ago: float, i: int = 0) -> Inbound:
    received = datetime.fromtimestamp(NOW - arrived_s_ago, UTC)
    return Inbound("carewatch/v1/s/d/vitals", b"{}", received, mid=i)


def filled(*ages: float) -> queue.Queue[Inbound]:
    inbox: queue.Queue[Inbound] = queue.Queue()
    for i, age in enumerate(ages):
        inbox.put(inbound(age, i))
    return inbox


def collect(
    inbox: queue.Queue[Inbound],
    *,
    batch_size: int = 5000,
    flush_s: float = 0.2,
) -> list[Inbound]:
    return collect_batch(
        inbox,
        batch_size=batch_size,
        flush_s=flush_s,
        idle_wait_s=0.01,
        wall_clock=lambda: NOW,
        monotonic=lambda: 100.0,  # frozen: no waiting happens
    )


def test_a_backlog_past_its_deadline_is_taken_in_full_batches() -> None:
    """Regression: messages queued longer than flush_s once went out one per batch."""
    inbox = filled(*[5.0] * 12_000)
    sizes = [len(collect(inbox)) for _ in range(3)]
    assert sizes == [5000, 5000, 2000]


@pytest.mark.parametrize(
    ("ages", "batch_size", "expected"),
    [
        ([0.0, 0.0, 0.0], 2, 2),
        ([1.0] * 10, 4, 4),
        ([0.0], 10, 1),
    ],
    ids=["size-cap", "size-cap-old", "nothing-more-queued"],
)
def test_batch_size_and_what_is_queued_bound_a_batch(
    ages: list[float], batch_size: int, expected: int
) -> None:
    assert len(collect(filled(*ages), batch_size=batch_size)) == expected


def test_idle_inbox_returns_nothing() -> None:
    assert collect(filled()) == []


def test_queued_time_counts_against_the_deadline() -> None:
    """A message that already waited longer than flush_s goes at once, without lingering."""
    inbox: queue.Queue[Inbound] = queue.Queue()
    inbox.put(Inbound("t", b"{}", datetime.fromtimestamp(time.time() - 10, UTC)))
    started = time.monotonic()
    batch = collect_batch(inbox, batch_size=10, flush_s=5.0)
    assert len(batch) == 1
    assert time.monotonic() - started < 1.0  # not the 5 s a fresh message would wait


def test_a_fresh_message_waits_for_company_up_to_flush_s() -> None:
    inbox: queue.Queue[Inbound] = queue.Queue()
    inbox.put(Inbound("t", b"{}", datetime.now(UTC)))
    started = time.monotonic()
    batch = collect_batch(inbox, batch_size=10, flush_s=0.2)
    elapsed = time.monotonic() - started
    assert len(batch) == 1
    assert 0.1 < elapsed < 2.0
