"""What bounds the worker's memory before decoding: an oversized payload is cut to its head
as it arrives, the inbox is full by bytes as well as by messages, a batch stops at its bytes."""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime

import pytest

from ingest.batching import collect_batch
from ingest.inbox import OVERHEAD_BYTES, Inbox, held_bytes
from ingest.pipeline import Inbound, classify
from ingest.writer import DEAD_LETTER_BYTES, DeadLetter

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)
TOPIC = "carewatch/v1/t1/dev-1/vitals"


def item(size: int, mid: int = 0) -> Inbound:
    return Inbound(TOPIC, b"x" * size, NOW, mid)


def test_an_oversized_payload_keeps_only_its_head_and_its_size() -> None:
    big = Inbound.received(TOPIC, b"y" * 1_000_000, NOW, mid=3, max_payload_bytes=65536)
    assert (len(big.payload), big.truncated_from, big.size, big.mid) == (
        DEAD_LETTER_BYTES,
        1_000_000,
        1_000_000,
        3,
    )
    dead = classify(big, {"dev-1": "t1"}.get)
    assert isinstance(dead, DeadLetter)
    assert (dead.reason, dead.detail, dead.size) == (
        "oversized",
        "1000000 bytes > 65536",
        1_000_000,
    )


@pytest.mark.parametrize("limit", [None, 65536], ids=["no-limit", "at-limit"])
def test_a_payload_within_the_limit_is_kept_whole(limit: int | None) -> None:
    kept = Inbound.received(TOPIC, b"z" * 65536, NOW, max_payload_bytes=limit)
    assert (len(kept.payload), kept.truncated_from, kept.size) == (65536, None, 65536)


def test_the_inbox_is_full_at_its_bytes_before_its_count() -> None:
    inbox = Inbox(maxsize=100, max_bytes=3000)
    inbox.put_nowait(item(1000))
    inbox.put_nowait(item(1000))
    assert not inbox.full()
    inbox.put_nowait(item(1000))  # reaches the budget
    assert inbox.full()
    with pytest.raises(queue.Full):
        inbox.put_nowait(item(1))
    inbox.get_nowait()
    assert not inbox.full() and inbox.bytes == 2 * held_bytes(item(1000))


def test_one_message_larger_than_the_budget_still_goes_through() -> None:
    inbox = Inbox(maxsize=10, max_bytes=100)
    inbox.put_nowait(item(10_000))
    assert inbox.get_nowait().payload == b"x" * 10_000
    assert inbox.bytes == 0 and inbox.empty()


def test_a_full_inbox_blocks_the_network_thread_until_the_worker_takes() -> None:
    inbox = Inbox(maxsize=1000, max_bytes=OVERHEAD_BYTES + len(TOPIC) + 500)
    inbox.put(item(500))
    put = threading.Event()

    def network_thread() -> None:
        inbox.put(item(10))
        put.set()

    putter = threading.Thread(target=network_thread)
    putter.start()
    assert not put.wait(0.05)  # blocked: what the broker then holds for us
    inbox.get()
    assert put.wait(5)
    putter.join(5)


def test_a_batch_stops_at_its_bytes() -> None:
    inbox: queue.Queue[Inbound] = queue.Queue()
    for i in range(10):
        inbox.put(item(1000, i))
    batch = collect_batch(
        inbox, batch_size=100, flush_s=0.0, max_bytes=3 * (1000 + len(TOPIC)), idle_wait_s=0.01
    )
    assert [b.mid for b in batch] == [0, 1, 2]
    assert inbox.qsize() == 7


def test_nonsense_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        Inbox(maxsize=0, max_bytes=10)
    with pytest.raises(ValueError, match="at least"):
        Inbox(maxsize=10, max_bytes=0)
