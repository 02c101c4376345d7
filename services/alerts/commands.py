"""Staff commands from outside the alert service (the API, one-time links): queue the command,
then wait for the service's answer. The service applies commands in order with everything else,
so an acknowledgement can never race a page."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from psycopg import AsyncConnection

__all__ = ["CommandResult", "submit"]


@dataclass(frozen=True, slots=True)
class CommandResult:
    command_id: int
    status: int | None  # None: not answered in time (it stays queued and will be applied)
    error: str | None


async def submit(
    database_url: str,
    *,
    kind: Literal["ack", "resolve"],
    alert_id: int,
    actor: str,
    via: str,
    outcome: str | None = None,
    note: str | None = None,
    timeout_s: float = 10.0,
) -> CommandResult:
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("LISTEN carewatch_command_done")
        cur = await conn.execute(
            "INSERT INTO alert_commands (kind, alert_id, actor, via, outcome, note)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING command_id",
            [kind, alert_id, actor, via, outcome, note],
        )
        row = await cur.fetchone()
        assert row is not None
        command_id = int(row[0])

        # Woken by the service's notify; the row is read again every half second in case a
        # notification went by while this connection was busy.
        deadline = time.monotonic() + timeout_s
        while True:
            cur = await conn.execute(
                "SELECT status, error FROM alert_commands WHERE command_id = %s", [command_id]
            )
            done = await cur.fetchone()
            assert done is not None
            remaining = deadline - time.monotonic()
            if done[0] is not None or remaining <= 0:
                return CommandResult(command_id, done[0], done[1])
            async for notify in conn.notifies(timeout=min(0.5, remaining), stop_after=1):
                if notify.payload == str(command_id):
                    break
