"""The delivery loop: takes due messages from the outbox, sends each through apprise on its
current channel, records every attempt, and either marks the message delivered or schedules the
next try (services/notifications/retry.py). Several sends run at once in threads (apprise blocks).

A message is claimed with a lease (its next_attempt_at pushed ahead) before it is sent, so a
crashed loop's messages come due again after the lease; a message recorded as delivered is
never sent again. The window between the receiver accepting and the row being updated is the
only place a duplicate can come from (at-least-once, as any outbox).

A page never goes to a channel type its site did not allow (the care team's allow-list of
apprise schemes, checked again here because a message queued under an older team may name a
channel since refused): such a channel is skipped and recorded as refused; a message with no
allowed channel left is cancelled. SMS gateways get the message's short form."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import apprise
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.careteam.team import SMS_SCHEMES, SitePolicy
from services.db.locks import lock_events
from services.notifications.retry import RetryPolicy

__all__ = ["Delivery", "Outcome", "apprise_send", "scheme_of"]

log = logging.getLogger("carewatch.alerts.delivery")
# Apprise's debug output can echo parts of a URL; warnings are about hosts and status codes.
logging.getLogger("apprise").setLevel(logging.WARNING)

LEASE_S = 60.0
MAX_ERROR = 300


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    error: str | None
    elapsed_ms: float


Sender = Callable[[str, str, str], Outcome]
Policies = Callable[[str | None], SitePolicy]


def scheme_of(url: str) -> str:
    """The only part of a channel URL that may be stored or logged."""
    return urlsplit(url).scheme or "?"


# Apprise reports why a send failed only through logging, from its own worker threads (which
# run in a copy of the caller's context): a context variable tells whose send a record is.
_SEND: contextvars.ContextVar[int | None] = contextvars.ContextVar("carewatch_send", default=None)


class _SendErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._lock = threading.Lock()
        self._by_send: dict[int, list[str]] = {}
        self._next = itertools.count(1)

    def emit(self, record: logging.LogRecord) -> None:
        send = _SEND.get()
        if send is not None:
            with self._lock:
                self._by_send.setdefault(send, []).append(record.getMessage())

    @contextmanager
    def capture(self) -> Iterator[list[str]]:
        send = next(self._next)
        token = _SEND.set(send)
        found: list[str] = []
        try:
            yield found
        finally:
            _SEND.reset(token)
            with self._lock:
                found += self._by_send.pop(send, [])


_ERRORS = _SendErrors()
logging.getLogger("apprise").addHandler(_ERRORS)


def apprise_send(url: str, title: str, body: str) -> Outcome:
    """Send one message to one apprise URL; never raises."""
    began = time.perf_counter()
    notifier = apprise.Apprise()
    if not notifier.add(url):
        return Outcome(False, f"{scheme_of(url)}:// is not a usable apprise URL", 0.0)
    with _ERRORS.capture() as errors:
        try:
            ok = bool(notifier.notify(body=body, title=title))
        except Exception as exc:  # a plugin bug must not kill the loop
            ok = False
            errors.append(type(exc).__name__)
    elapsed = (time.perf_counter() - began) * 1000
    error = None if ok else ("; ".join(errors) or "delivery failed")[:MAX_ERROR]
    return Outcome(ok, error, elapsed)


@dataclass(frozen=True, slots=True)
class _Due:
    notification_id: int
    kind: str
    incident_id: int | None
    channels: list[str]
    channel_index: int
    attempts: int
    title: str
    body: str
    short: str | None
    site: str | None


class Delivery:
    """Sends what the outbox holds. `on_result(kind, ok, elapsed_ms)` feeds the metrics."""

    def __init__(
        self,
        *,
        send: Sender = apprise_send,
        retry: RetryPolicy | None = None,
        concurrency: int = 8,
        on_result: Callable[[str, bool, float], None] | None = None,
        policy: Policies | None = None,
    ) -> None:
        self.send = send
        self.policy = policy  # None: every channel allowed (tests of delivery mechanics)
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self.on_result = on_result

    async def claim(self, conn: AsyncConnection[TupleRow], now: datetime) -> list[_Due]:
        cur = await conn.execute(
            "UPDATE notifications n SET next_attempt_at = %s"
            " FROM (SELECT notification_id FROM notifications"
            "       WHERE status = 'pending' AND next_attempt_at <= %s"
            "       ORDER BY next_attempt_at, notification_id LIMIT %s FOR UPDATE SKIP LOCKED) d"
            " WHERE n.notification_id = d.notification_id"
            " RETURNING n.notification_id, n.kind, n.incident_id, n.channels, n.channel_index,"
            " n.attempts, n.title, n.body, n.short,"
            " coalesce((SELECT i.site_id FROM incidents i WHERE i.incident_id = n.incident_id),"
            "   (SELECT r.site_id FROM referrals r WHERE r.referral_id = n.referral_id))",
            [now + timedelta(seconds=LEASE_S), now, self.concurrency * 4],
        )
        return [_Due(*row) for row in await cur.fetchall()]

    async def run_once(self, conn: AsyncConnection[TupleRow], now: datetime) -> int:
        """Send everything due now; returns how many were attempted."""
        due = await self.claim(conn, now)
        if not due:
            return 0
        limit = asyncio.Semaphore(self.concurrency)

        async def one(item: _Due) -> tuple[_Due, Outcome]:
            url = item.channels[item.channel_index % len(item.channels)]
            title, body = item.title, item.body
            if item.short and scheme_of(url).lower() in SMS_SCHEMES:
                title, body = "", item.short  # one segment; gateways prepend a title
            async with limit:
                return item, await asyncio.to_thread(self.send, url, title, body)

        allowed = []
        for item in due:
            if await self._allowed(conn, item):
                allowed.append(item)
        for item, outcome in await asyncio.gather(*(one(d) for d in allowed)):
            await self._record(conn, item, outcome)
        return len(due)

    async def _allowed(self, conn: AsyncConnection[TupleRow], item: _Due) -> bool:
        """Move the message to its next channel the site allows, recording each refused one;
        False when it is not to be sent now (none allowed: cancelled)."""
        if self.policy is None:
            return True
        policy = self.policy(item.site)
        count = len(item.channels)
        start = item.channel_index % count
        order = [(start + k) % count for k in range(count)]
        refused = [c for c in order if not policy.allows(item.channels[c])]
        if start not in refused:
            return True
        at = datetime.now().astimezone()
        async with conn.transaction():
            for c in order:
                if c not in refused:
                    break
                error = f"{scheme_of(item.channels[c])}:// is not allowed at site {item.site}"
                await conn.execute(
                    "INSERT INTO delivery_attempts (notification_id, at, channel_index, scheme,"
                    " ok, error, elapsed_ms) VALUES (%s, %s, %s, %s, false, %s, 0)",
                    [item.notification_id, at, c, scheme_of(item.channels[c]), error],
                )
                log.error("notification %d (%s): %s", item.notification_id, item.kind, error)
            following = next((c for c in order if c not in refused), None)
            if following is None:
                await conn.execute(
                    "UPDATE notifications SET status = 'cancelled', last_error = %s"
                    " WHERE notification_id = %s AND status = 'pending'",
                    ["no channel of this message is allowed at its site", item.notification_id],
                )
            else:
                await conn.execute(
                    "UPDATE notifications SET channel_index = %s, next_attempt_at = %s"
                    " WHERE notification_id = %s AND status = 'pending'",
                    [following, at, item.notification_id],
                )
        return False

    async def _record(self, conn: AsyncConnection[TupleRow], item: _Due, outcome: Outcome) -> None:
        channel = item.channel_index % len(item.channels)
        at = datetime.now().astimezone()
        async with conn.transaction():
            if outcome.ok and item.kind == "page" and item.incident_id is not None:
                # The decision step's order: the events lock before any notification row (it
                # cancels pages under that lock); the other order deadlocked with it.
                await lock_events(conn)
            await conn.execute(
                "INSERT INTO delivery_attempts (notification_id, at, channel_index, scheme, ok,"
                " error, elapsed_ms) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    item.notification_id,
                    at,
                    channel,
                    scheme_of(item.channels[channel]),
                    outcome.ok,
                    outcome.error,
                    outcome.elapsed_ms,
                ],
            )
            if outcome.ok:
                await conn.execute(
                    "UPDATE notifications SET status = 'delivered', delivered_at = %s,"
                    " delivered_channel = %s, attempts = attempts + 1, last_error = NULL"
                    " WHERE notification_id = %s AND status = 'pending'",
                    [at, channel, item.notification_id],
                )
                if item.kind == "page" and item.incident_id is not None:
                    await self._first_delivery(conn, item.incident_id, at)
            else:
                attempts = item.attempts + 1
                following, delay = self.retry.after_failure(attempts, channel, len(item.channels))
                await conn.execute(
                    "UPDATE notifications SET attempts = %s, channel_index = %s,"
                    " next_attempt_at = %s, last_error = %s"
                    " WHERE notification_id = %s AND status = 'pending'",
                    [
                        attempts,
                        following,
                        at + timedelta(seconds=delay),
                        outcome.error,
                        item.notification_id,
                    ],
                )
                log.warning(
                    "notification %d (%s) failed on channel %d (%s://): %s; next try on channel"
                    " %d in %.0f s",
                    item.notification_id,
                    item.kind,
                    channel,
                    scheme_of(item.channels[channel]),
                    outcome.error,
                    following,
                    delay,
                )
        if self.on_result is not None:
            self.on_result(item.kind, outcome.ok, outcome.elapsed_ms)

    async def _first_delivery(
        self, conn: AsyncConnection[TupleRow], incident_id: int, at: datetime
    ) -> None:
        """The incident's first page reached someone: it is "notified" from now on, and the
        live feed hears of it."""
        await lock_events(conn)
        cur = await conn.execute(
            "UPDATE incidents SET delivered_at = %s WHERE incident_id = %s"
            " AND delivered_at IS NULL RETURNING incident_id",
            [at, incident_id],
        )
        if await cur.fetchone() is not None:
            await conn.execute(
                "INSERT INTO alert_events (incident_id, ts, kind)"
                " VALUES (%s, %s, 'DeliveredEvent')",
                [incident_id, at],
            )

    async def next_due_in(self, conn: AsyncConnection[TupleRow], now: datetime) -> float | None:
        """Seconds until the earliest pending message is due (None: nothing pending)."""
        cur = await conn.execute(
            "SELECT min(next_attempt_at) FROM notifications WHERE status = 'pending'"
        )
        row = await cur.fetchone()
        if row is None or row[0] is None:
            return None
        due: datetime = row[0]
        return max(0.0, (due - now).total_seconds())
