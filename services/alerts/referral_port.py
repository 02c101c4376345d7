"""What the alert service asks of referrals, as a port it is handed (`AlertService(referrals=)`).

Referrals build on the alert service (its outbox, roster and care team), so the alert service
never imports them: the composition root (`carewatch alerts`) hands it the implementation,
`services.referrals.for_alerts.AlertReferrals`. Tests may hand it an in-memory one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]


class ReferralPort(Protocol):
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
        """An alert asking for a referral (its `suggestion` is "referral") was raised or
        updated: suggest one when the resident's stored state warrants it. Runs in a savepoint
        of the caller's transaction; a suggestion it cannot make does not fail that."""

    async def tick(self, conn: Conn, now: datetime) -> int:
        """The periodic part, in the caller's transaction: fire the referral timers due at
        `now` and retry recent suggestions. Returns how many timers fired."""
