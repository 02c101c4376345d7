"""The live feed's one database listener per API process, fanned out to its streams.

One connection LISTENs for the alert service's changes, reads each new event once and puts it
in every open stream's queue; a stream never holds a connection of its own (90 streams used
to hold 90, exhausting PostgreSQL: issue 13). The same connection checks, every few seconds,
that the sessions the streams were opened with are still alive. Streams are capped per user
and per process, and a stream whose queue fills (its client reads too slowly) is ended
rather than holding anyone else up; its client reconnects with Last-Event-ID.

While the database is away the listener reconnects on a short backoff and then takes up from
the last event it fanned out: streams stay open (heartbeats go on) and miss nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

__all__ = [
    "CHANNEL",
    "End",
    "FeedEvent",
    "Hub",
    "StreamLimit",
    "Subscription",
]

log = logging.getLogger("carewatch.api.feed")

Conn: TypeAlias = AsyncConnection[TupleRow]
CHANNEL: Final = "carewatch_alert_events"  # the alert service notifies it on each commit
POLL_S = 1.0  # a look for new events even without a notification (one lost in a reconnect)
SESSION_CHECK_S = 5.0  # how soon a revoked session's streams end
QUEUE_MAX = 500  # events a stream may fall behind before it is ended
RETRY_FIRST_S = 0.2
RETRY_MAX_S = 2.0

EndReason = Literal["token_expired", "session_revoked", "too_slow", "shutting_down"]


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One alert event and the alerts it changed, as `GET /api/v1/alerts` shows them after it."""

    event_id: int
    kind: str
    alerts: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class End:
    """The stream is over, and why (its last message says so)."""

    reason: EndReason


# The events after a cursor, oldest first, at most `limit` of them.
Loader: TypeAlias = Callable[[Conn, int, int], Awaitable[list[FeedEvent]]]
# The revocation check: which of these sessions are alive.
SessionCheck: TypeAlias = Callable[[Conn, Iterable[str]], Awaitable[set[str]]]


class StreamLimit(Exception):
    """Too many open streams: for this user, or for this process."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(eq=False, slots=True)
class Subscription:
    user: str
    session_id: str | None
    start: int  # the listener's cursor when it opened: the queue holds only later events
    queue: asyncio.Queue[FeedEvent | End] = field(default_factory=asyncio.Queue)
    ended: EndReason | None = None


class Hub:
    def __init__(
        self,
        url: str,
        load: Loader,
        check_sessions: SessionCheck,
        *,
        per_user: int,
        per_process: int,
        queue_max: int = QUEUE_MAX,
        session_check_s: float = SESSION_CHECK_S,
    ) -> None:
        self.url = url
        self.load = load
        self.check_sessions = check_sessions
        self.per_user = per_user
        self.per_process = per_process
        self.queue_max = queue_max
        self.session_check_s = session_check_s
        self.cursor = 0  # the last event fanned out
        self.subscriptions: set[Subscription] = set()
        self._by_user: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._conn: Conn | None = None
        self._sessions_at = 0.0
        self.closing = False

    # --- life cycle (the app's lifespan) --------------------------------------------------------

    async def start(self) -> None:
        """Connect (raising if the database is away, as the pool does at start) and listen."""
        conn = await self._connect()
        self.cursor = await self._latest(conn)
        self._task = asyncio.create_task(self._run(conn), name="feed-listener")

    def end_streams(self) -> None:
        """The server is stopping: end every stream (`shutting_down`), and any opened from now
        on at once. The server waits for its open responses before the app's shutdown, and a
        feed never finishes by itself (services/api/server.py)."""
        self.closing = True
        for sub in list(self.subscriptions):
            self._end(sub, "shutting_down")

    async def close(self) -> None:
        self.end_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None:
            await self._conn.close()

    # --- streams ----------------------------------------------------------------------------

    def subscribe(self, user: str, session_id: str | None) -> Subscription:
        """A queue of the events after the current cursor; StreamLimit past a cap."""
        if len(self.subscriptions) >= self.per_process:
            raise StreamLimit(
                f"this server has {self.per_process} live feeds open, the most it keeps;"
                " try again shortly"
            )
        if self._by_user[user] >= self.per_user:
            raise StreamLimit(
                f"you have {self.per_user} live feeds open, the most one user may; close one first"
            )
        sub = Subscription(user, session_id, self.cursor)
        self.subscriptions.add(sub)
        self._by_user[user] += 1
        if self.closing:
            self._end(sub, "shutting_down")  # it says so and the client reconnects elsewhere
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            self.subscriptions.discard(sub)
            self._by_user[sub.user] -= 1
            if self._by_user[sub.user] <= 0:
                del self._by_user[sub.user]

    def _end(self, sub: Subscription, reason: EndReason) -> None:
        """Empty its queue and leave only the end in it; the stream says why and closes."""
        if sub.ended is not None:
            return
        sub.ended = reason
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(End(reason))
        self.unsubscribe(sub)

    # --- the listener -------------------------------------------------------------------------

    async def _connect(self) -> Conn:
        conn = await AsyncConnection.connect(
            self.url, autocommit=True, application_name="carewatch-api-feed"
        )
        await conn.execute(f"LISTEN {CHANNEL}")
        self._conn = conn
        return conn

    async def _run(self, conn: Conn) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                await self._listen(conn)
            except psycopg.OperationalError as exc:
                log.warning("feed listener: database away (%s); retrying in %.1f s", exc, delay)
            except Exception:
                # Never let the one listener die silently: every stream would go quiet.
                log.exception("feed listener failed; restarting in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            with contextlib.suppress(psycopg.OperationalError):
                await conn.close()
                conn = await self._connect()
                delay = RETRY_FIRST_S
                log.info("feed listener: reconnected; taking up after event %d", self.cursor)

    async def _listen(self, conn: Conn) -> None:
        while True:
            await self._fan_out(conn)
            if time.monotonic() - self._sessions_at >= self.session_check_s:
                await self._check(conn)
            async for _ in conn.notifies(timeout=POLL_S, stop_after=1):
                pass

    async def _latest(self, conn: Conn) -> int:
        cur = await conn.execute("SELECT coalesce(max(event_id), 0) FROM alert_events")
        row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _fan_out(self, conn: Conn) -> None:
        if not self.subscriptions:  # nobody to read events for: only move the cursor
            latest = await self._latest(conn)
            if not self.subscriptions:
                self.cursor = max(self.cursor, latest)
                return
            # A stream opened while we looked, starting at the old cursor: it catches up to
            # there, so everything after it must reach its queue, not be skipped.
        while True:
            events = await self.load(conn, self.cursor, 200)
            for event in events:
                self.cursor = event.event_id
                for sub in list(self.subscriptions):
                    if sub.queue.qsize() >= self.queue_max:
                        log.warning("feed of %s ended: %d events behind", sub.user, self.queue_max)
                        self._end(sub, "too_slow")
                    else:
                        sub.queue.put_nowait(event)
            if len(events) < 200:
                return

    async def _check(self, conn: Conn) -> None:
        self._sessions_at = time.monotonic()
        sessions = {s.session_id for s in self.subscriptions if s.session_id is not None}
        if not sessions:
            return
        alive = await self.check_sessions(conn, sessions)
        for sub in list(self.subscriptions):
            if sub.session_id is not None and sub.session_id not in alive:
                self._end(sub, "session_revoked")
