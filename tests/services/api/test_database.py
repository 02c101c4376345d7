"""The API's pool across a database outage (services/api/database.py), against the session's
real PostgreSQL reached through a TCP relay that the test opens and closes: while the relay
is down the pool cannot connect, as when PostgreSQL is stopped.

psycopg_pool's own backoff (1, 2, 4, 8, 16 s… between tries) would leave the pool up to 16 s
behind after this outage; ours must be back within a few seconds, and meanwhile a request
must fail within its bounded wait, not hang."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import PoolTimeout

from services.api.database import RECONNECT_WINDOW_S, WAIT_S, make_pool
from services.operations.local.system import free_port

OUTAGE_S = 20.0  # long enough for the library's backoff to reach 16 s between tries


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def relay(port: int, to_host: str, to_port: int) -> AsyncIterator[None]:
    """Listen on `port` and pass every connection through to PostgreSQL."""

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(to_host, to_port)
        await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_pool_is_back_within_seconds_of_the_database(db_url: str) -> None:
    target = conninfo_to_dict(db_url)
    target_host, target_port = target["host"], target["port"]
    assert target_host is not None and target_port is not None
    port = free_port()
    pool = make_pool(make_conninfo(db_url, host="127.0.0.1", port=port))
    await pool.open(wait=False)
    try:
        # The outage: requests keep asking (as /readyz and the web board do), each fails
        # within the pool's bounded wait, and the backoff runs on.
        end = time.monotonic() + OUTAGE_S
        refused = 0
        while time.monotonic() < end:
            asked = time.monotonic()
            with pytest.raises(PoolTimeout):
                async with pool.connection():
                    pass
            assert time.monotonic() - asked < WAIT_S + 2, "a request hung past its bound"
            refused += 1
        assert refused >= 3

        async with relay(port, str(target_host), int(target_port)):
            back = time.monotonic()
            async with pool.connection(timeout=30) as conn:
                await conn.execute("SELECT 1")
            took = time.monotonic() - back
        # One reconnect window plus a connection's set-up; the library's default would wait
        # out its current backoff step (16 s here).
        assert took < RECONNECT_WINDOW_S + 3, f"the pool took {took:.1f} s to reconnect"
    finally:
        await pool.close(timeout=5)
