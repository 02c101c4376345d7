"""The API's connection pool, and what a request gets while the database is away.

psycopg_pool retries a failed connection with exponential backoff (1, 2, 4, 8, 16, 32 s…) and
lets only one such attempt run at a time, so after a 30 s outage the pool could sit out half a
minute with the database long back. A short reconnect window ends each backoff chain within a
few seconds; the next request that needs a connection starts a fresh chain, whose first try is
immediate. Requests wait a bounded time for a connection and then answer 503, never hang.
"""

from __future__ import annotations

from typing import TypeAlias

import psycopg
from fastapi import Request
from fastapi.responses import JSONResponse
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

Pool: TypeAlias = AsyncConnectionPool[AsyncConnection[TupleRow]]

WAIT_S = 5.0  # a request waits this long for a connection before answering 503
RECONNECT_WINDOW_S = 3.0  # one backoff chain's length: tries at 0, 1 and 3 s, then a new chain
RETRY_AFTER_S = 5


def make_pool(url: str) -> Pool:
    return AsyncConnectionPool(
        url,
        min_size=1,
        max_size=10,
        open=False,
        kwargs={"autocommit": True},
        # After a database restart every pooled connection is dead: checked at checkout,
        # a request gets a fresh one instead of a 500 (tests/faults/test_database.py).
        check=AsyncConnectionPool.check_connection,
        timeout=WAIT_S,
        reconnect_timeout=RECONNECT_WINDOW_S,
    )


async def ping(conn: AsyncConnection[TupleRow]) -> None:
    """One round trip: raises when the database does not answer a query."""
    await conn.execute("SELECT 1")


async def database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """No connection within WAIT_S, or the one we had broke mid-request: a 503 the caller can
    retry, saying why, rather than a 500 or a hung request."""
    timed_out = isinstance(exc, PoolTimeout)
    why = f"no connection within {WAIT_S:g} s" if timed_out else "connection lost"
    return JSONResponse(
        {"detail": f"the database is unavailable ({why}); retry shortly"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


UNAVAILABLE = (PoolTimeout, psycopg.OperationalError)
