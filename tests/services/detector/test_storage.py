"""Snapshots and the candidate outbox against the real database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from rules.types import AlertCandidate
from services.detector import snapshots
from services.detector.outbox import write_candidates
from tests.support import Conn, count

TS = datetime(2026, 3, 1, 12, tzinfo=UTC)


@dataclass(frozen=True)
class Toy:
    n: int


def test_snapshots_round_trip_and_skip_other_versions(db: Conn) -> None:
    subject = f"resident:{uuid.uuid4().int % 10**9}"
    snapshots.save_snapshots(db, {subject: Toy(1)}, taken_at=TS)
    snapshots.save_snapshots(db, {subject: Toy(2)}, taken_at=TS)  # upsert
    states, _ = snapshots.load_snapshots(db)
    assert states[subject] == Toy(2)
    db.execute("UPDATE detector_snapshots SET version = version + 1 WHERE subject = %s", [subject])
    states, skipped = snapshots.load_snapshots(db)
    assert subject not in states and subject in skipped
    db.execute("DELETE FROM detector_snapshots WHERE subject = %s", [subject])


def test_replayed_candidates_are_written_once(db: Conn) -> None:
    key = f"sos:resident:{uuid.uuid4().hex}"
    candidate = AlertCandidate(
        "sos", "raise", "resident:1", key, "critical", TS, "SOS", {"device_id": "w1"}
    )
    assert write_candidates(db, [candidate]) == 1
    assert write_candidates(db, [candidate]) == 0
    row = db.execute(
        'SELECT severity, "values" FROM alert_candidates WHERE dedupe_key = %s', [key]
    ).fetchone()
    assert row == ("critical", {"device_id": "w1"})
    assert count(db, "SELECT count(*) FROM alert_candidates WHERE dedupe_key = %s", key) == 1
