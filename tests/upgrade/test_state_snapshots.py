"""Snapshots pickled by the previous release (tests/fixtures/legacy_state, written by the code
at integ ad27da0): `carewatch upgrade-state` rewrites them as JSON once, the detector loads
them, and the rules carry on from them: open conditions stay open, the long-lie clock keeps
running, baselines are kept. Before the upgrade the detector refuses them, loading nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rules.baseline import Baseline
from rules.engine import Engine, RulesConfig
from rules.types import AlertCandidate, ResidentProfile, Vital
from services.detector import snapshots
from services.errors import LegacyStateError
from services.settings import ServiceRole
from tests.support import Conn, count
from upgrade.state import UpgradeRefused, upgrade_state

FIXTURES = Path(__file__).parents[1] / "fixtures" / "legacy_state"
IMPACT = datetime(2026, 3, 5, 18, 1, 10, tzinfo=UTC)  # the fixture's fall
DESATURATED = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)  # ... and the start of its low SpO2
PROFILE = ResidentProfile(7, "site-a", "unit-1", fall_risk=True)


@pytest.fixture
def detector(role_db_url: Callable[[ServiceRole], str]) -> Iterator[Conn]:
    with psycopg.connect(role_db_url("detector"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def legacy_rows(db: Conn) -> Iterator[dict[str, str]]:
    """The fixture's rows, pickled, under subjects of this test's own."""
    tag = uuid.uuid4().hex[:8]
    rid = uuid.uuid4().int % 10**9
    rows = {
        "resident": (f"resident:{rid}", "resident_7"),
        "unit": (f"unit:legacy-{tag}/unit-1", "unit_site-a_unit-1"),
        "cursor": (f"cursor:manual:legacy-{tag}", "cursor_manual"),
    }
    for subject, name in rows.values():
        db.execute(
            "INSERT INTO detector_snapshots (subject, version, state, taken_at)"
            " VALUES (%s, 1, %s, now())",
            [subject, (FIXTURES / f"{name}.pickle").read_bytes()],
        )
    yield {kind: subject for kind, (subject, _) in rows.items()}
    db.execute(
        "DELETE FROM detector_snapshots WHERE subject = ANY(%s)", [[s for s, _ in rows.values()]]
    )


def engine_with(state: dict[str, Any] | None) -> Engine:
    engine = Engine(RulesConfig())
    engine.set_resident(PROFILE, None)
    for name, value in (state or {}).items():
        setattr(engine.residents[7], name, value)  # as the detector restores a resident
    return engine


def raised(out: list[AlertCandidate]) -> set[str]:
    return {c.rule_id for c in out if c.action == "raise"}


def fallen(out: list[AlertCandidate]) -> list[tuple[str, str, str]]:
    return [(c.rule_id, c.action, c.severity) for c in out if c.rule_id.startswith("fall")]


def legacy_left(db: Conn, subjects: list[str]) -> int:
    return count(
        db,
        "SELECT count(*) FROM detector_snapshots WHERE subject = ANY(%s) AND version = 1"
        " AND state IS NOT NULL",
        subjects,
    )


def test_the_detector_refuses_pickled_snapshots_naming_the_upgrade(
    detector: Conn, db: Conn, legacy_rows: dict[str, str]
) -> None:
    with pytest.raises(LegacyStateError, match=r"run `carewatch upgrade-state`") as refused:
        snapshots.load_snapshots(detector)
    assert legacy_rows["resident"] in str(refused.value)
    # Nothing unpickled, nothing rewritten or dropped: the rows wait for the upgrade.
    assert legacy_left(db, list(legacy_rows.values())) == len(legacy_rows)


def test_the_upgrade_rewrites_pickled_snapshots_as_json_once(
    detector: Conn, db: Conn, legacy_rows: dict[str, str]
) -> None:
    subjects = list(legacy_rows.values())
    assert upgrade_state(db).snapshots >= len(subjects)
    rewritten = count(
        db,
        "SELECT count(*) FROM detector_snapshots WHERE subject = ANY(%s)"
        " AND version = %s AND state IS NULL AND doc IS NOT NULL",
        subjects,
        snapshots.STATE_VERSION,
    )
    assert rewritten == len(subjects)
    states, skipped = snapshots.load_snapshots(detector)
    assert not set(subjects) & set(skipped)
    assert upgrade_state(db).snapshots == 0  # idempotent: nothing left to do
    again, _ = snapshots.load_snapshots(detector)
    for subject in subjects:
        assert snapshots.encode_state(subject, again[subject]) == snapshots.encode_state(
            subject, states[subject]
        )
    assert states[legacy_rows["cursor"]] == 41
    assert sorted(states[legacy_rows["unit"]].onsets) == [8, 9]

    resident = states[legacy_rows["resident"]]
    assert resident["baseline"].hr.baseline == Baseline(median=63.0, mad=0.0, days=3)
    assert resident["vitals"].conditions["vital.spo2.low"].opened_at is not None
    fall = resident["fall"].incident
    assert fall.raised and not fall.long_lie_raised and fall.closed_at is None
    assert resident["fall"].detectors[0].buffer.shape == (100, 3)


def test_a_row_the_legacy_reader_refuses_stops_the_upgrade_and_changes_nothing(
    db: Conn, legacy_rows: dict[str, str]
) -> None:
    bad = legacy_rows["unit"]
    db.execute("UPDATE detector_snapshots SET state = %s WHERE subject = %s", [b"junk", bad])
    with pytest.raises(UpgradeRefused, match=rf"detector snapshot {bad}: unreadable"):
        upgrade_state(db)
    assert legacy_left(db, list(legacy_rows.values())) == len(legacy_rows)


def test_the_rules_carry_on_from_an_upgraded_snapshot(
    detector: Conn, db: Conn, legacy_rows: dict[str, str]
) -> None:
    upgrade_state(db)
    states, _ = snapshots.load_snapshots(detector)
    resumed, fresh = engine_with(states[legacy_rows["resident"]]), engine_with(None)
    low = [DESATURATED + timedelta(seconds=80 + s) for s in range(40)]
    out = {
        name: [c for t in low for c in e.observe(7, Vital(t, "spo2", 85.0, "vitals", "w1"), now=t)]
        for name, e in (("resumed", resumed), ("fresh", fresh))
    }
    # The desaturation was already paged before the upgrade: not again (a fresh state would).
    assert "vital.spo2.low" in raised(out["fresh"])
    assert "vital.spo2.low" not in raised(out["resumed"])
    # The fall's long-lie clock counts from the impact before the upgrade.
    long_lie = timedelta(seconds=RulesConfig().fall.long_lie_s)
    assert not fallen(resumed.tick(now=IMPACT + long_lie - timedelta(seconds=2)))
    assert fallen(resumed.tick(now=IMPACT + long_lie + timedelta(seconds=1))) == [
        ("fall.long_lie", "update", "critical")
    ]
    assert not fallen(fresh.tick(now=IMPACT + long_lie + timedelta(seconds=1)))
