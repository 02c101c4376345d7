"""SQL of the one-tap acknowledgement page: the alert as its page describes it, and the
single-use links the alert service issued (`ack_links`)."""

from __future__ import annotations

from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]

SUMMARY: Final = (
    "title", "rule_id", "severity", "status", "by", "at", "first_ts", "resident_id", "site",
    "unit", "name", "room", "bed", "timezone", "site_name", "unit_name", "messaging_consent",
)  # fmt: skip


async def alert_summary(conn: Conn, *, alert_id: int) -> dict[str, Any] | None:
    """The alert with its resident and place names, keyed by `SUMMARY`, or None."""
    cur = await conn.execute(
        "SELECT a.title, a.rule_id, a.severity, a.status, a.acknowledged_by, a.acknowledged_at,"
        " a.first_ts, a.resident_id, a.site_id, a.unit_id, r.display_name, r.room, r.bed,"
        " r.timezone, s.name, u.name, coalesce((SELECT c.granted FROM resident_consents c"
        " WHERE c.resident_id = a.resident_id AND c.kind = 'third_party_messaging'"
        " ORDER BY c.recorded_at DESC, c.id DESC LIMIT 1), false) FROM alerts_view a"
        " LEFT JOIN residents r USING (resident_id)"
        " LEFT JOIN sites s ON s.site_id = a.site_id"
        " LEFT JOIN units u ON u.site_id = a.site_id AND u.unit_id = a.unit_id"
        " WHERE a.alert_id = %s",
        [alert_id],
    )
    row = await cur.fetchone()
    return None if row is None else dict(zip(SUMMARY, row, strict=True))


async def link_used(conn: Conn, *, nonce: str, alert_id: int) -> bool | None:
    """Whether the link was used already; None when no such link was issued."""
    cur = await conn.execute(
        "SELECT used_at IS NOT NULL FROM ack_links WHERE nonce = %s AND alert_id = %s",
        [nonce, alert_id],
    )
    row = await cur.fetchone()
    return None if row is None else bool(row[0])


async def use_link(conn: Conn, *, nonce: str, alert_id: int, staff_id: str) -> bool:
    """Mark the link used; False when it is unknown, someone else's, used or expired."""
    cur = await conn.execute(
        "UPDATE ack_links SET used_at = now() WHERE nonce = %s AND alert_id = %s"
        " AND staff_id = %s AND used_at IS NULL AND expires_at > now() RETURNING nonce",
        [nonce, alert_id, staff_id],
    )
    return await cur.fetchone() is not None
