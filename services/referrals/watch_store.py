"""Post-discharge watch periods in the database: started by a return (`returns.py`), ended by
the alert service's tick (`for_alerts.py`) when due, listed for the board. The overrides go
into `residents.rule_overrides`, which the detector reads (refreshed every minute).

A watch whose end has passed counts as over for the board at once, even before the tick has
taken its overrides off.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.errors import OverrideError
from services.referrals.watch import WATCH_OVERRIDES, apply, restore
from services.resident_rules import check_resident_overrides

log = logging.getLogger("carewatch.referrals")

Conn = AsyncConnection[TupleRow]


@dataclass(frozen=True, slots=True)
class Watch:
    resident_id: int
    referral_id: int
    started_at: datetime
    ends_at: datetime
    site_id: str = ""
    unit_id: str = ""


async def start_watch(
    conn: Conn, *, resident_id: int, referral_id: int, now: datetime, days: int
) -> Watch:
    """Start a watch on the resident for `days`, or extend the one running to end no sooner
    than that. Call inside the caller's transaction (the return's)."""
    ends = now + timedelta(days=days)
    cur = await conn.execute(
        "SELECT s.rule_overrides, r.rule_overrides FROM residents r JOIN sites s USING (site_id)"
        " WHERE r.resident_id = %s FOR UPDATE OF r",
        [resident_id],
    )
    found = await cur.fetchone()
    assert found is not None  # the return checked the resident
    site_over, own = found
    cur = await conn.execute(
        "UPDATE watch_periods SET ends_at = greatest(ends_at, %s), referral_id = %s"
        " WHERE resident_id = %s AND ended_at IS NULL RETURNING started_at, ends_at",
        [ends, referral_id, resident_id],
    )
    running = await cur.fetchone()
    if running is not None:
        return Watch(resident_id, referral_id, running[0], running[1])
    merged, saved = apply(own or {}, WATCH_OVERRIDES)
    overrides: Any = WATCH_OVERRIDES
    try:
        check_resident_overrides(site_over, merged)
    except OverrideError as exc:
        # The resident's own overrides and the watch's do not fit together (e.g. a longer
        # round interval at higher risk): the watch is still shown, the rules stay as they are.
        log.warning("resident %s: watch period without rule overrides (%s)", resident_id, exc)
        merged, saved, overrides = own or {}, [], {}
    await conn.execute(
        "UPDATE residents SET rule_overrides = %s WHERE resident_id = %s",
        [Jsonb(merged), resident_id],
    )
    await conn.execute(
        "INSERT INTO watch_periods (resident_id, referral_id, started_at, ends_at, overrides,"
        " saved) VALUES (%s, %s, %s, %s, %s, %s)",
        [resident_id, referral_id, now, ends, Jsonb(dict(overrides)), Jsonb(saved)],
    )
    return Watch(resident_id, referral_id, now, ends)


async def end_due(conn: Conn, now: datetime, *, limit: int = 100) -> int:
    """End the watches due at `now`: their overrides taken back off the resident, key by key.
    Returns how many ended; call it periodically."""
    ended = 0
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT watch_id, resident_id, overrides, saved FROM watch_periods"
            " WHERE ended_at IS NULL AND ends_at <= %s ORDER BY ends_at LIMIT %s"
            " FOR UPDATE SKIP LOCKED",
            [now, limit],
        )
        for watch_id, resident_id, overrides, saved in await cur.fetchall():
            own_cur = await conn.execute(
                "SELECT rule_overrides FROM residents WHERE resident_id = %s FOR UPDATE",
                [resident_id],
            )
            own = await own_cur.fetchone()
            assert own is not None
            await conn.execute(
                "UPDATE residents SET rule_overrides = %s WHERE resident_id = %s",
                [Jsonb(restore(own[0] or {}, overrides, saved)), resident_id],
            )
            await conn.execute(
                "UPDATE watch_periods SET ended_at = %s WHERE watch_id = %s", [now, watch_id]
            )
            ended += 1
    return ended


async def running(
    conn: Conn, *, scope: tuple[str, Sequence[object]], now: datetime, limit: int = 500
) -> list[Watch]:
    """The watches running at `now` on residents in `scope` (a fixed SQL fragment over
    r.site_id / r.unit_id and its parameters, from auth.principal)."""
    cur = await conn.execute(
        "SELECT w.resident_id, w.referral_id, w.started_at, w.ends_at, r.site_id, r.unit_id"  # noqa: S608 - fixed parts
        " FROM watch_periods w JOIN residents r USING (resident_id)"
        f" WHERE w.ended_at IS NULL AND w.ends_at > %s AND {scope[0]}"
        " ORDER BY w.ends_at LIMIT %s",
        [now, *scope[1], limit],
    )
    return [Watch(*row) for row in await cur.fetchall()]
