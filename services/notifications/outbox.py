"""The durable notification outbox: messages are queued in the same transaction as the state
change that caused them, and the delivery loop (services/notifications/delivery.py) sends them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

__all__ = ["Kind", "cancel_pages", "enqueue"]

# "reminder": an overdue visit or round (services/visits/reminders.py).
Kind = Literal["page", "acknowledged", "update", "resolved", "referral", "reminder"]


async def enqueue(
    conn: AsyncConnection[TupleRow],
    *,
    kind: Kind,
    recipient: str,
    channels: Sequence[str],
    title: str,
    body: str,
    short: str | None = None,
    incident_id: int | None = None,
    referral_id: int | None = None,
) -> int:
    """Queue one message to one recipient (its apprise URLs, primary first). Returns its id.
    `short` is the SMS form (services/alerts/messages.py), sent instead of title and body
    through an SMS gateway. Runs in the caller's transaction: it is sent only if that commits."""
    if not channels:
        raise ValueError(f"{recipient} has no channel to reach them")
    cur = await conn.execute(
        "INSERT INTO notifications (kind, incident_id, referral_id, recipient, channels, title,"
        " body, short) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING notification_id",
        [kind, incident_id, referral_id, recipient, list(channels), title, body, short or None],
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def cancel_pages(conn: AsyncConnection[TupleRow], incident_id: int) -> int:
    """Someone is on it: pages of the incident not yet delivered are moot."""
    cur = await conn.execute(
        "UPDATE notifications SET status = 'cancelled'"
        " WHERE incident_id = %s AND kind = 'page' AND status = 'pending'",
        [incident_id],
    )
    return cur.rowcount
