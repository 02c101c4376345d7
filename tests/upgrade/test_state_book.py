"""The alert book pickled by the previous release (tests/fixtures/legacy_state/alert_book.pickle,
written by the code at integ ad27da0): `carewatch upgrade-state` rewrites it as JSON once, and
its escalation clock keeps running. A hostile or broken one stops the upgrade, unchanged."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from services.alerts.store import BOOK_VERSION, decode_book
from tests.services.alerts.fakes import Ward, at
from tests.support import Conn
from upgrade.state import UpgradeRefused, upgrade_state

FIXTURES = Path(__file__).parents[1] / "fixtures" / "legacy_state"


@pytest.fixture
def conn(db_url: str) -> Iterator[Conn]:
    """One transaction, rolled back: the singleton row other tests' services use is untouched."""
    with psycopg.connect(db_url) as conn, conn.transaction(force_rollback=True):
        conn.execute("DELETE FROM alert_service_state")
        yield conn


def store_legacy(conn: Conn, blob: bytes) -> None:
    conn.execute(
        "INSERT INTO alert_service_state (singleton, version, book, saved_at)"
        " VALUES (true, 1, %s, now())",
        [blob],
    )


def stored(conn: Conn) -> tuple[Any, ...]:
    row = conn.execute("SELECT version, book IS NULL, doc FROM alert_service_state").fetchone()
    assert row is not None
    return tuple(row)


def test_a_pickled_book_is_rewritten_once_and_keeps_its_escalation_clock(conn: Conn) -> None:
    store_legacy(conn, (FIXTURES / "alert_book.pickle").read_bytes())
    assert upgrade_state(conn).book
    version, cleared, doc = stored(conn)
    assert (version, cleared) == (BOOK_VERSION, True)
    assert not upgrade_state(conn).book  # idempotent: nothing left to do
    assert stored(conn) == (version, cleared, doc)
    book = decode_book(doc, version)  # as the alert service loads it
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


class _Hostile:
    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, ("true",)


@pytest.mark.parametrize("blob", [pickle.dumps(_Hostile()), b"\x80\x05junk"], ids=["code", "junk"])
def test_a_hostile_or_broken_legacy_book_stops_the_upgrade_unchanged(
    conn: Conn, blob: bytes
) -> None:
    store_legacy(conn, blob)
    with pytest.raises(UpgradeRefused, match=r"alert book: (.*is not a state class|unreadable)"):
        upgrade_state(conn)
    assert stored(conn) == (1, False, None)
