"""Delivery and the decision step take their locks in one order (the events lock, then a
notification's row): in opposite orders PostgreSQL killed one of them with a deadlock, and the
alert service restarted (seen 97 times in bench/alarm_burden.py's week). Real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
from psycopg import AsyncConnection

from services.db.locks import lock_events
from services.notifications.delivery import Delivery, Outcome, _Due
from services.notifications.outbox import enqueue
from tests.support import SITE


async def test_a_delivered_page_and_a_cancelling_step_do_not_deadlock(
    db_url: str, ward: str
) -> None:
    now = datetime.now(UTC)
    async with await AsyncConnection.connect(db_url, autocommit=True) as setup:
        cur = await setup.execute(
            "INSERT INTO incidents (incident_id, subject, site_id, state, severity, title,"
            " opened_at, updated_at)"
            " VALUES ((SELECT coalesce(max(incident_id), 0) + 1 FROM incidents),"
            " 'resident:lock', %s, 'notified', 'high', 'lock order', %s, %s)"
            " RETURNING incident_id",
            [SITE, now, now],
        )
        row = await cur.fetchone()
        assert row is not None
        incident_id = int(row[0])
        notification = await enqueue(
            setup,
            kind="page",
            recipient="cg",
            channels=["json://127.0.0.1:9/x"],
            title="t",
            body="b",
            incident_id=incident_id,
        )
    item = _Due(
        notification, "page", incident_id, ["json://127.0.0.1:9/x"], 0, 0, "t", "b", None, SITE
    )
    delivery = Delivery(send=lambda *_: Outcome(True, None, 1))
    async with (
        await AsyncConnection.connect(db_url) as step,
        await AsyncConnection.connect(db_url, autocommit=True) as sender,
    ):
        # The decision step holds the events lock, as it does while it decides ...
        await lock_events(step)
        recording = asyncio.create_task(delivery._record(sender, item, Outcome(True, None, 1)))
        # Until the delivery waits on a lock (whatever it took before waiting, it holds).
        await waiting_on_a_lock(step, sender.info.backend_pid)
        # ... and cancels the incident's pages (an acknowledgement came in).
        await asyncio.wait_for(
            step.execute(
                "UPDATE notifications SET status = 'cancelled' WHERE notification_id = %s"
                " AND status = 'pending'",
                [notification],
            ),
            timeout=10,
        )
        await step.commit()
        try:
            await asyncio.wait_for(recording, timeout=10)
        except psycopg.errors.DeadlockDetected as exc:  # pragma: no cover - the bug
            raise AssertionError(f"delivery deadlocked with the step: {exc}") from exc


async def waiting_on_a_lock(conn: AsyncConnection[tuple[object, ...]], pid: int) -> None:
    async with asyncio.timeout(10):
        while True:
            cur = await conn.execute("SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", [pid])
            if await cur.fetchone() is not None:
                return
            await asyncio.sleep(0.05)
