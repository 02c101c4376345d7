"""Outbreak case files as the detector writes them, with its own role: one open file per unit
and syndrome, cases keyed by person, and a replayed candidate never reopening a closed file."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from rules.outbreak_syndromes import Case, Person
from rules.types import AlertCandidate
from services.detector.case_files import write_with_case_files
from services.settings import ServiceRole
from tests.support import Conn

TS = datetime(2026, 12, 1, 8, tzinfo=UTC)
GI = "outbreak.gastrointestinal_cluster"


@pytest.fixture
def detector(role_db_url: Callable[[ServiceRole], str]) -> Iterator[Conn]:
    """As the detector connects: its own role."""
    with psycopg.connect(role_db_url("detector"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def unit(db: Conn) -> str:
    unit_id = f"cf-{uuid.uuid4().hex[:12]}"
    db.execute("INSERT INTO sites VALUES ('cf', 'Case files') ON CONFLICT DO NOTHING")
    db.execute("INSERT INTO units VALUES ('cf', %s, 'Unit')", [unit_id])
    return unit_id


def cases(*people: int) -> dict[Person, Case]:
    return {("resident", p): Case(TS + timedelta(hours=p), frozenset({"vomiting"})) for p in people}


def files(db: Conn, unit: str) -> list[tuple[object, ...]]:
    return db.execute(
        "SELECT o.status, count(c.*) FROM outbreaks o JOIN outbreak_cases c USING (outbreak_id)"
        " WHERE o.unit_id = %s GROUP BY o.outbreak_id, o.status ORDER BY o.outbreak_id",
        [unit],
    ).fetchall()


def test_a_replayed_raise_does_not_reopen_a_closed_file_and_a_new_case_does(
    detector: Conn, db: Conn, unit: str
) -> None:
    subject = f"unit:cf/{unit}"
    raised = AlertCandidate(
        GI, "raise", subject, f"{GI}:{subject}", "high", TS, "GI cluster", origin="symptoms:1#0"
    )
    with detector.transaction():
        assert (
            write_with_case_files(
                detector, [raised], [(raised, "gastrointestinal", cases(1, 2, 3))], TS
            )
            == 1
        )
    assert files(db, unit) == [("open", 3)]
    # The same case again (its signs grew) and a fourth: one file, four lines.
    update = replace(raised, action="update", origin="symptoms:2#0")
    write_with_case_files(detector, [update], [(update, "gastrointestinal", cases(1, 2, 3, 4))], TS)
    assert files(db, unit) == [("open", 4)]
    db.execute(
        "UPDATE outbreaks SET status = 'reported', reported_at = now(), reported_to = 'CDC',"
        " closed_by = 'n', closed_at = now() WHERE unit_id = %s",
        [unit],
    )
    # A crash before the snapshot: the raise comes again, and is skipped with its file.
    write_with_case_files(detector, [raised], [(raised, "gastrointestinal", cases(1, 2, 3))], TS)
    assert files(db, unit) == [("reported", 4)]
    # A case after the report: a new file.
    later = replace(raised, action="update", origin="symptoms:3#0")
    write_with_case_files(
        detector, [later], [(later, "gastrointestinal", cases(1, 2, 3, 4, 5))], TS
    )
    assert files(db, unit) == [("reported", 4), ("open", 5)]
