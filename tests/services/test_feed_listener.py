"""The live feed's listener (services/api/listener.py) on a real PostgreSQL with real
LISTEN/NOTIFY; the events themselves come from a list here (the real reader is tested
through the API in tests/e2e/test_feed.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.api.listener import CHANNEL, End, FeedEvent, Hub, StreamLimit

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
