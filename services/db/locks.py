"""Advisory locks that transactions of several rooms share. Here, under all of them, so that
neither room imports the other for a lock id (the alert service and the notification delivery
both write the alert timeline)."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

__all__ = ["EVENTS_LOCK", "lock_events"]

# Held by every transaction that writes `alert_events`: event ids then commit in id order, so
# a live feed reading "everything after id N" never skips an event that commits late.
EVENTS_LOCK = 0x43570001


async def lock_events(conn: AsyncConnection[TupleRow]) -> None:
    """Take the timeline's lock until the end of `conn`'s transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", [EVENTS_LOCK])
