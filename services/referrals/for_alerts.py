"""Referrals as the alert service reaches them: the implementation of its port
(`services.alerts.referral_port.ReferralPort`), handed to it by `carewatch alerts`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.referrals.store import sla_step, suggest_from_alert
from services.referrals.watch_store import end_due

Conn = AsyncConnection[TupleRow]

# How long after an alert asking for a referral its suggestion is retried (`tick`).
SUGGESTION_RETRY_S: Final = 300.0


class AlertReferrals:
    """Suggestions from alerts, and the referral timers and the end of post-discharge watch
    periods on the alert service's clock."""

    async def suggest(
        self,
        conn: Conn,
        *,
        alert_id: int,
        resident_id: int,
        rule_id: str,
        title: str,
        values: Mapping[str, float | str],
        now: datetime,
    ) -> None:
        await suggest_from_alert(
            conn,
            alert_id=alert_id,
            resident_id=resident_id,
            rule_id=rule_id,
            title=title,
            values=values,
            now=now,
        )

    async def tick(self, conn: Conn, now: datetime) -> int:
        fired = await sla_step(conn, now)
        await end_due(conn, now)
        await self._retry_suggestions(conn, now)
        return fired

    async def _retry_suggestions(self, conn: Conn, now: datetime) -> None:
        """A NEWS2 >= 7 suggestion is checked against the stored readings, which can trail the
        detector's live stream by a batch: try again for a few minutes after the alert."""
        cur = await conn.execute(
            'SELECT a.alert_id, a.resident_id, a.rule_id, a.title, a."values" FROM alerts a'
            " WHERE a.suggestion = 'referral' AND a.resolved_at IS NULL"
            " AND a.resident_id IS NOT NULL AND a.opened_at > %s"
            " AND NOT EXISTS (SELECT 1 FROM referrals r WHERE r.alert_id = a.alert_id)",
            [now - timedelta(seconds=SUGGESTION_RETRY_S)],
        )
        for alert_id, resident_id, rule_id, title, values in await cur.fetchall():
            await self.suggest(
                conn,
                alert_id=alert_id,
                resident_id=resident_id,
                rule_id=rule_id,
                title=title,
                values=values,
                now=now,
            )
