"""Outbreak case files: a cluster alert opens one for its unit (or site) and syndrome (or adds
to the one open), and its cases are the file's line list. Written in the transaction of the
candidates that raised them, and only for candidates written then: a replayed one (skipped by its
origin) had its file written with it the first time, and written again after that file was
closed it would open a new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from rules.outbreak_syndromes import Case, Person
from rules.types import AlertCandidate
from services.detector.outbox import write_candidates

__all__ = ["CaseFile", "write_case_file", "write_with_case_files"]

# A candidate of an outbreak rule, its syndrome and the cases behind it (Engine.cases_of).
CaseFile = tuple[AlertCandidate, str, Mapping[Person, Case]]


def write_with_case_files(
    conn: psycopg.Connection[TupleRow],
    candidates: Sequence[AlertCandidate],
    files: Sequence[CaseFile],
    now: datetime,
) -> int:
    """Write the candidates (`write_candidates`), then the case files of those new."""
    fresh: list[AlertCandidate] = []
    new = write_candidates(conn, candidates, now, written=fresh)
    written = {id(c) for c in fresh}
    for candidate, syndrome, cases in files:
        if id(candidate) in written:
            write_case_file(conn, candidate, syndrome, cases, candidate.ts)
    return new


def write_case_file(
    conn: psycopg.Connection[TupleRow],
    candidate: AlertCandidate,
    syndrome: str,
    cases: Mapping[Person, Case],
    now: datetime,
) -> int:
    """Open (or find the open) case file of the candidate's unit (or site: subject
    "site:<site>", a file with no unit) and syndrome and add its cases; returns the file's id.
    A clear does not close a file: only a person does."""
    insert = (
        "INSERT INTO outbreaks (site_id, unit_id, syndrome, rule_id, opened_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)"
    )
    if candidate.subject.startswith("site:"):
        site_id, unit_id = candidate.subject.removeprefix("site:"), None
        insert += (
            " ON CONFLICT (site_id, syndrome) WHERE unit_id IS NULL AND status = 'open'"
            " AND NOT drill"
        )
    else:
        site_id, _, unit_id = candidate.subject.removeprefix("unit:").partition("/")
        insert += " ON CONFLICT (site_id, unit_id, syndrome) WHERE status = 'open' AND NOT drill"
    row = conn.execute(
        insert + " DO UPDATE SET updated_at = excluded.updated_at RETURNING outbreak_id",
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
                    case.unit or unit_id,
                    case.onset,
                    sorted(case.signs),
                    case.temperature,
                    now,
                )
                for (kind, person_id), case in sorted(cases.items())
            ],
        )
    return outbreak_id
