"""Snapshots against the real database, as the detector's own role writes and reads them
(state pickled by earlier releases: tests/upgrade/test_state_snapshots.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.types.json import Jsonb

from rules.outbreak import OutbreakState
from services.detector import snapshots
from services.settings import ServiceRole
from tests.support import Conn

TS = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def detector(role_db_url: Callable[[ServiceRole], str]) -> Iterator[Conn]:
    """As the detector connects: its own role (migration 0008)."""
    with psycopg.connect(role_db_url("detector"), autocommit=True) as conn:
        yield conn


def save(conn: Conn, states: dict[str, object]) -> None:
    snapshots.save_encoded(conn, snapshots.encode_snapshots(states), taken_at=TS)


def test_snapshots_round_trip_and_skip_what_this_code_cannot_read(detector: Conn, db: Conn) -> None:
    subject = f"unit:s-{uuid.uuid4().hex}/u"
    save(detector, {subject: OutbreakState(open=True)})
    save(detector, {subject: OutbreakState(reported=frozenset({4}))})
    states, _ = snapshots.load_snapshots(detector)
    assert states[subject] == OutbreakState(reported=frozenset({4}))
    # A format from a newer release, and a document that does not fit: that subject starts
    # afresh (and the log says why), the others load.
    db.execute("UPDATE detector_snapshots SET version = version + 1 WHERE subject = %s", [subject])
    states, skipped = snapshots.load_snapshots(detector)
    assert subject not in states and subject in skipped
    db.execute(
        "UPDATE detector_snapshots SET version = %s, doc = %s WHERE subject = %s",
        [snapshots.STATE_VERSION, Jsonb({"opne": True}), subject],
    )
    states, skipped = snapshots.load_snapshots(detector)
    assert subject not in states and subject in skipped
    db.execute("DELETE FROM detector_snapshots WHERE subject = %s", [subject])


def test_a_site_cluster_is_kept_and_put_back_only_for_its_own_site(detector: Conn) -> None:
    from rules.engine import Engine
    from rules.outbreak_site import SiteClusterState
    from rules.outbreak_syndromes import Case
    from services.detector.partition import Partition
    from services.detector.unit_states import restore_unit_state

    site = f"s-{uuid.uuid4().hex[:8]}"
    state = SiteClusterState(
        f"site:{site}/gastrointestinal",
        {("staff", 3): Case(TS, frozenset({"vomiting"}), 37.9, "u2")},
        open=True,
        reported=frozenset({("staff", 3)}),
    )
    subject = f"sitecluster:{site}/gastrointestinal"
    save(detector, {subject: state})
    states, _ = snapshots.load_snapshots(detector)
    assert states[subject] == state  # the case keeps its unit
    engine = Engine()
    restore_unit_state(engine, Partition(None, frozenset()), subject, states[subject])
    assert engine.sites == {(site, "gastrointestinal"): state}
    # Stored under another site's key: refused, as a unit's state would be.
    other = Engine()
    every = Partition(None, frozenset())
    restore_unit_state(other, every, "sitecluster:elsewhere/gastrointestinal", state)
    assert other.sites == {}
