"""Outbreak case files: a cluster alert opens one for its unit and syndrome (or adds to the one
open), and its cases are the file's line list. Written in the transaction of the candidates
that raised them, so a replay writes nothing twice (rows are keyed by unit, syndrome, person).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from rules.outbreak_syndromes import Case, Person
from rules.types import AlertCandidate

__all__ = ["write_case_file"]


def write_case_file(
    conn: psycopg.Connection[TupleRow],
    candidate: AlertCandidate,
    syndrome: str,
    cases: Mapping[Person, Case],
    now: datetime,
) -> int:
    """Open (or find the open) case file of the candidate's unit and syndrome and add its
    cases; returns the file's id. A clear does not close a file: only a person does."""
    site_id, _, unit_id = candidate.subject.removeprefix("unit:").partition("/")
    row = conn.execute(
        "INSERT INTO outbreaks (site_id, unit_id, syndrome, rule_id, opened_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (site_id, unit_id, syndrome) WHERE status = 'open'"
        " DO UPDATE SET updated_at = excluded.updated_at RETURNING outbreak_id",
        [site_id, unit_id, syndrome, candidate.rule_id, now, now],
    ).fetchone()
    assert row is not None  # inserted or updated: either returns the row
    outbreak_id = int(row[0])
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO outbreak_cases (outbreak_id, person_kind, person_id, unit_id, onset,"
            " signs, temperature, added_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (outbreak_id, person_kind, person_id) DO UPDATE"
            " SET signs = excluded.signs,"
            "     temperature = coalesce(excluded.temperature, outbreak_cases.temperature)",
            [
                (
                    outbreak_id,
                    kind,
                    person_id,
                    unit_id,
                    case.onset,
                    sorted(case.signs),
                    case.temperature,
                    now,
                )
                for (kind, person_id), case in sorted(cases.items())
            ],
        )
    return outbreak_id
