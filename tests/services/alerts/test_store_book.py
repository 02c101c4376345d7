"""The alert book in the database: JSON with its format version. A book pickled by an earlier
release is refused, naming `carewatch upgrade-state` (tests/upgrade/test_state_book.py), and left as
it is: the service never unpickles it nor replaces it with a new book."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.alerts.store import BOOK_VERSION, load_book, save_book
from services.errors import LegacyStateError
from tests.services.alerts.fakes import Ward, at, cand

FIXTURES = Path(__file__).parents[2] / "fixtures" / "legacy_state"
AConn = AsyncConnection[TupleRow]


@pytest.fixture
async def conn(db_url: str) -> AsyncIterator[AConn]:
    """One transaction, rolled back: the singleton row other tests' services use is untouched."""
    async with (
        await AsyncConnection.connect(db_url) as conn,
        conn.transaction(force_rollback=True),
    ):
        await conn.execute("DELETE FROM alert_service_state")
        yield conn


async def store_legacy(conn: AConn, blob: bytes) -> None:
    await conn.execute(
        "INSERT INTO alert_service_state (singleton, version, book, saved_at)"
        " VALUES (true, 1, %s, now())",
        [blob],
    )


async def stored(conn: AConn) -> tuple[Any, ...]:
    cur = await conn.execute(
        "SELECT version, book IS NULL, doc IS NOT NULL FROM alert_service_state"
    )
    row = await cur.fetchone()
    assert row is not None
    return tuple(row)


async def test_a_pickled_book_is_refused_naming_the_upgrade(conn: AConn) -> None:
    await store_legacy(conn, (FIXTURES / "alert_book.pickle").read_bytes())
    with pytest.raises(LegacyStateError, match=r"alert book .* run `carewatch upgrade-state`"):
        await load_book(conn)
    assert await stored(conn) == (1, False, False)  # left for the upgrade, not dropped


async def test_a_saved_book_round_trips(conn: AConn) -> None:
    ward = Ward()
    ward.book = await load_book(conn)  # none stored: a new book
    ward.feed(cand("fall.device"))
    ward.tick(200)
    await save_book(conn, ward.book, at(200))
    assert await load_book(conn) == ward.book
    assert await stored(conn) == (BOOK_VERSION, True, True)


async def test_a_book_of_a_newer_format_is_refused(conn: AConn) -> None:
    await save_book(conn, Ward().book, at(0))
    await conn.execute("UPDATE alert_service_state SET version = version + 1")
    with pytest.raises(RuntimeError, match="newer than this code"):
        await load_book(conn)
