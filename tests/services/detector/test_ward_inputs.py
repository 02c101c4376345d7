"""What staff enter beside the device stream, read after a cursor, against the real database:
in order, only the partition's sites, and a page at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from services.detector import ward_inputs
from services.detector.ward_inputs import attendance_after, manual_observations_after
from services.settings import ServiceRole
from tests.support import Conn

TS = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def detector(role_db_url: Callable[[ServiceRole], str]) -> Iterator[Conn]:
    """As the detector reads: its own role, which may only read these tables."""
    with psycopg.connect(role_db_url("detector"), autocommit=True) as conn:
        yield conn


def _site_with_resident(db: Conn) -> tuple[str, int]:
    site = f"s-{uuid.uuid4().hex[:12]}"
    db.execute("INSERT INTO sites VALUES (%s, %s)", [site, site])
    db.execute("INSERT INTO units VALUES (%s, 'u', 'u')", [site])
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, 'u', 'R')"
        " RETURNING resident_id",
        [site],
    ).fetchone()
    assert row is not None
    return site, int(row[0])


def _cursor(db: Conn, table: str) -> int:
    row = db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_manual_observations_come_in_order_and_only_from_the_partitions_sites(
    detector: Conn, db: Conn
) -> None:
    ours, mine = _site_with_resident(db)
    _, other = _site_with_resident(db)
    cursor = _cursor(db, "manual_observations")
    for resident, value in [(mine, 80.0), (other, 90.0), (mine, 81.0)]:
        db.execute(
            "INSERT INTO manual_observations (resident_id, metric, value, ts, recorded_by)"
            " VALUES (%s, 'hr', %s, %s, 'nurse')",
            [resident, value, TS],
        )
    everything = manual_observations_after(detector, cursor, frozenset())
    assert [(o.resident_id, o.value) for o in everything] == [
        (mine, 80.0),
        (other, 90.0),
        (mine, 81.0),
    ]
    partition = manual_observations_after(detector, cursor, frozenset({ours}))
    assert [(o.resident_id, o.value, o.metric, o.ts) for o in partition] == [
        (mine, 80.0, "hr", TS),
        (mine, 81.0, "hr", TS),
    ]
    assert manual_observations_after(detector, partition[-1].id, frozenset({ours})) == []


def test_attendance_comes_in_order_a_page_at_a_time_and_only_from_the_partitions_sites(
    detector: Conn, db: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, mine = _site_with_resident(db)
    theirs, other = _site_with_resident(db)
    cursor = _cursor(db, "staff_attendance")
    for resident, site, action in [
        (mine, ours, "acknowledged"),
        (other, theirs, "acknowledged"),
        (mine, ours, "resolved"),
    ]:
        db.execute(
            "INSERT INTO staff_attendance (resident_id, site_id, alert_id, rule_id, dedupe_key,"
            " condition_ts, action, by_staff, at) VALUES (%s, %s, 1, 'fall', 'k', %s, %s, 'n', %s)",
            [resident, site, TS, action, TS],
        )
    partition = attendance_after(detector, cursor, frozenset({ours}))
    assert [(a.resident_id, a.action, a.condition_ts) for a in partition] == [
        (mine, "acknowledged", TS),
        (mine, "resolved", TS),
    ]
    monkeypatch.setattr(ward_inputs, "PAGE", 2)
    first = attendance_after(detector, cursor, frozenset())
    assert [a.resident_id for a in first] == [mine, other]
    rest = attendance_after(detector, first[-1].id, frozenset())
    assert [(a.resident_id, a.action) for a in rest] == [(mine, "resolved")]
