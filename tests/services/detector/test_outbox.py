"""The candidate outbox against the real database (snapshots: test_snapshots.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from rules.types import AlertCandidate
from services.detector.outbox import write_candidates
from services.settings import ServiceRole
from tests.support import Conn, count

TS = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def detector(role_db_url: Callable[[ServiceRole], str]) -> Iterator[Conn]:
    """As the detector connects: its own role (migration 0008)."""
    with psycopg.connect(role_db_url("detector"), autocommit=True) as conn:
        yield conn


def test_replayed_candidates_are_written_once(detector: Conn, db: Conn) -> None:
    key = f"sos:resident:{uuid.uuid4().hex}"
    candidate = AlertCandidate(
        "sos", "raise", "resident:1", key, "critical", TS, "SOS", {"device_id": "w1"}
    )
    assert write_candidates(detector, [candidate]) == 1
    assert write_candidates(detector, [candidate]) == 0
    row = db.execute(
        'SELECT severity, "values" FROM alert_candidates WHERE dedupe_key = %s', [key]
    ).fetchone()
    assert row == ("critical", {"device_id": "w1"})
    assert count(db, "SELECT count(*) FROM alert_candidates WHERE dedupe_key = %s", key) == 1


def test_updates_sharing_a_ts_are_kept_apart_by_their_origin(detector: Conn, db: Conn) -> None:
    # NEWS2 stamps the processing time: three updates of one round share a ts.
    key = f"news2:resident:{uuid.uuid4().hex}"
    updates = [
        AlertCandidate("news2", "update", "resident:1", key, "medium", TS, f"NEWS2 {total}")
        for total in (4, 5, 8)
    ]
    keyed = [replace(c, origin=f"manual:{n}#0") for n, c in enumerate(updates)]
    assert write_candidates(detector, keyed) == 3
    assert write_candidates(detector, keyed) == 0  # the round replayed after a crash
    titles = db.execute(
        "SELECT title FROM alert_candidates WHERE dedupe_key = %s ORDER BY id", [key]
    ).fetchall()
    assert titles == [("NEWS2 4",), ("NEWS2 5",), ("NEWS2 8",)]


def test_arrival_is_stamped_on_the_detectors_clock(detector: Conn, db: Conn) -> None:
    # A replay at speed runs the detector on the stream's clock: late data is judged on it.
    key = f"sos:resident:{uuid.uuid4().hex}"
    candidate = AlertCandidate("sos", "raise", "resident:1", key, "critical", TS, "SOS")
    arrived = TS + timedelta(minutes=12)
    assert write_candidates(detector, [candidate], arrived) == 1
    row = db.execute("SELECT created_at FROM alert_candidates WHERE dedupe_key = %s", [key])
    assert row.fetchone() == (arrived,)
