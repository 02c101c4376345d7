"""The alert book in the database: JSON with its format version. A book pickled by the previous
release (tests/fixtures/legacy_state/alert_book.pickle, written by the code at integ ad27da0)
loads once, is rewritten as JSON, and its escalation clock keeps running."""

from __future__ import annotations

import os
import pickle
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.alerts.store import BOOK_VERSION, load_book, save_book
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


async def test_a_pickled_book_keeps_its_escalation_clock(conn: AConn) -> None:
    await store_legacy(conn, (FIXTURES / "alert_book.pickle").read_bytes())
    book = await load_book(conn)
    assert await stored(conn) == (BOOK_VERSION, True, True)  # rewritten as JSON, once
    assert await load_book(conn) == book
    incident = book.incidents[1]
    assert incident.status == "notified"
    assert incident.escalation.reached == {1: at(0)} and incident.paged

    # Step 1 times out 120 s after it was paged, before the upgrade: step 2 is paged then.
    ward = Ward()
    ward.book = book
    ward.tick(119)
    assert ward.incident().escalation.step == 1
    ward.tick(121)
    assert ward.incident().status == "escalated" and ward.incident().escalation.step == 2


async def test_a_saved_book_round_trips(conn: AConn) -> None:
    ward = Ward()
    ward.book = await load_book(conn)  # none stored: a new book
    ward.feed(cand("fall.device"))
    ward.tick(200)
    await save_book(conn, ward.book, at(200))
    assert await load_book(conn) == ward.book
    assert await stored(conn) == (BOOK_VERSION, True, True)


class _Hostile:
    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, ("true",)


@pytest.mark.parametrize("blob", [pickle.dumps(_Hostile()), b"\x80\x05junk"], ids=["code", "junk"])
async def test_a_hostile_or_broken_legacy_book_stops_the_service_loudly(
    conn: AConn, blob: bytes
) -> None:
    await store_legacy(conn, blob)
    with pytest.raises(RuntimeError, match=r"alert service state \(format 1\) not loaded"):
        await load_book(conn)


async def test_a_book_of_a_newer_format_is_refused(conn: AConn) -> None:
    await save_book(conn, Ward().book, at(0))
    await conn.execute("UPDATE alert_service_state SET version = version + 1")
    with pytest.raises(RuntimeError, match="newer than this code"):
        await load_book(conn)
