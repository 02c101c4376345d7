"""The live feed's listener (services/api/listener.py) on a real PostgreSQL with real
LISTEN/NOTIFY; the events themselves come from a list here (the real reader is tested
through the API in tests/e2e/test_feed.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.api.listener import CHANNEL, End, FeedEvent, Hub, StreamLimit, Subscription

Conn = AsyncConnection[TupleRow]


async def no_sessions(_conn: Conn, _ids: Iterable[str]) -> set[str]:
    return set()


async def test_a_slow_stream_is_ended_and_the_others_get_everything(db_url: str) -> None:
    produced: list[FeedEvent] = []

    async def load(_conn: Conn, after: int, limit: int) -> list[FeedEvent]:
        return [e for e in produced if e.event_id > after][:limit]

    hub = Hub(db_url, load, no_sessions, per_user=1, per_process=10, queue_max=3)
    await hub.start()
    base = hub.cursor
    try:
        slow = hub.subscribe("slow", None)  # never read
        fast = hub.subscribe("fast", None)
        got = []
        async with await AsyncConnection.connect(db_url, autocommit=True) as notifier:
            for i in range(1, 8):
                produced.append(FeedEvent(base + i, "CreatedEvent", ()))
                await notifier.execute(f"NOTIFY {CHANNEL}")
                item = await asyncio.wait_for(fast.queue.get(), timeout=10)
                assert isinstance(item, FeedEvent)
                got.append(item.event_id)
        assert got == [base + i for i in range(1, 8)]
        # The slow one was ended once 3 events waited, its backlog dropped for the end.
        assert slow.ended == "too_slow"
        assert slow.queue.get_nowait() == End("too_slow") and slow.queue.empty()
        # ... and its place given back (per_user=1).
        hub.unsubscribe(hub.subscribe("slow", None))
        with pytest.raises(StreamLimit):
            hub.subscribe("fast", None)
    finally:
        await hub.close()
    assert fast.queue.get_nowait() == End("shutting_down")


async def test_a_stream_opened_while_the_idle_listener_moves_on_misses_nothing(
    db_url: str,
) -> None:
    """With no stream open the listener only moves its cursor; a stream that opens during
    that look starts at the old cursor and must get everything after it (it was skipped)."""
    produced = [FeedEvent(1, "CreatedEvent", ()), FeedEvent(2, "CreatedEvent", ())]
    opened: list[Subscription] = []

    async def load(_conn: Conn, after: int, limit: int) -> list[FeedEvent]:
        return [e for e in produced if e.event_id > after][:limit]

    class Racing(Hub):
        async def _latest(self, conn: Conn) -> int:
            if not opened:
                opened.append(self.subscribe("late", None))  # opens mid-look
            return max(e.event_id for e in produced)

    hub = Racing(db_url, load, no_sessions, per_user=1, per_process=10)
    async with await AsyncConnection.connect(db_url, autocommit=True) as conn:
        await hub._fan_out(conn)
    [late] = opened
    assert late.start == 0
    got = [late.queue.get_nowait() for _ in range(late.queue.qsize())]
    assert [e.event_id for e in got if isinstance(e, FeedEvent)] == [1, 2]
