"""What staff enter beside the device stream, read in order after the detector's cursors:
observations and symptoms taken on rounds (through the API) and staff attending to alerts
(recorded by the alert service). Only the rows of the partition's sites (all sites: `sites`
empty)."""

from __future__ import annotations

from collections.abc import Set
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import TupleRow

from rules.types import StaffAction

__all__ = [
    "Attendance",
    "ManualObservation",
    "SymptomObservation",
    "attendance_after",
    "manual_observations_after",
    "symptom_observations_after",
]

PAGE = 1000  # rows per read; the rest come at the next tick

Conn = psycopg.Connection[TupleRow]


class ManualObservation(NamedTuple):
    id: int
    resident_id: int
    metric: str
    value: float
    ts: datetime


class SymptomObservation(NamedTuple):
    """A resident's symptoms from a round, or a member of staff's check-in with signs (then
    `resident_id` is None and the row names the person and the unit they work in)."""

    id: int
    resident_id: int | None
    symptoms: list[str]
    ts: datetime
    staff_person: int | None = None
    site_id: str | None = None
    unit_id: str | None = None
    temperature: float | None = None


class Attendance(NamedTuple):
    id: int
    resident_id: int
    at: datetime
    action: StaffAction
    rule_id: str
    dedupe_key: str
    condition_ts: datetime


def manual_observations_after(conn: Conn, cursor: int, sites: Set[str]) -> list[ManualObservation]:
    if sites:
        rows = conn.execute(
            "SELECT m.id, m.resident_id, m.metric, m.value, m.ts FROM manual_observations m"
            " JOIN residents r USING (resident_id) WHERE m.id > %s AND r.site_id = ANY(%s)"
            " ORDER BY m.id LIMIT %s",
            [cursor, sorted(sites), PAGE],
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT id, resident_id, metric, value, ts FROM manual_observations WHERE id > %s"
            " ORDER BY id LIMIT %s",
            [cursor, PAGE],
        ).fetchall()
    return [ManualObservation(*row) for row in rows]


def symptom_observations_after(
    conn: Conn, cursor: int, sites: Set[str]
) -> list[SymptomObservation]:
    query = (
        "SELECT s.id, s.resident_id, s.symptoms, s.ts, s.staff_person, s.site_id, s.unit_id,"
        " s.temperature FROM symptom_observations s"
        " LEFT JOIN residents r USING (resident_id) WHERE s.id > %s"
    )
    params: list[Any] = [cursor]
    if sites:
        query += " AND coalesce(r.site_id, s.site_id) = ANY(%s)"
        params.append(sorted(sites))
    rows = conn.execute(query + " ORDER BY s.id LIMIT %s", [*params, PAGE]).fetchall()
    return [SymptomObservation(*row) for row in rows]


def attendance_after(conn: Conn, cursor: int, sites: Set[str]) -> list[Attendance]:
    query = (
        "SELECT id, resident_id, at, action, rule_id, dedupe_key, condition_ts"
        " FROM staff_attendance WHERE id > %s"
    )
    params: list[Any] = [cursor]
    if sites:
        query += " AND site_id = ANY(%s)"
        params.append(sorted(sites))
    rows = conn.execute(query + " ORDER BY id LIMIT %s", [*params, PAGE]).fetchall()
    return [Attendance(*row) for row in rows]


def first_manual_cursor(conn: Conn) -> int:
    """Where a detector's first start begins reading rounds: observations older than NEWS2's
    longest freshness window (12 h) could not count any more."""
    row = conn.execute(
        "SELECT coalesce(max(id), 0) FROM manual_observations"
        " WHERE recorded_at < now() - interval '12 hours'"
    ).fetchone()
    return int(row[0]) if row else 0


def last_attendance(conn: Conn) -> int:
    """The newest staff action: with no rule state a past action could be about, start there."""
    row = conn.execute("SELECT coalesce(max(id), 0) FROM staff_attendance").fetchone()
    return int(row[0]) if row else 0
