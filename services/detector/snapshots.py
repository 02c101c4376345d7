"""Detector state snapshots: one row per subject, written with the candidates it produced.

States are pickled (they are the rules' own frozen dataclasses). A snapshot of another
`STATE_VERSION` is not loaded: the detector then starts that subject afresh, and says so.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow

STATE_VERSION = 1


def save_snapshots(
    conn: psycopg.Connection[TupleRow], states: Mapping[str, Any], *, taken_at: datetime
) -> None:
    if not states:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO detector_snapshots (subject, version, state, taken_at)"
            " VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (subject) DO UPDATE"
            " SET version = excluded.version, state = excluded.state,"
            "     taken_at = excluded.taken_at",
            [
                (subject, STATE_VERSION, pickle.dumps(state, pickle.HIGHEST_PROTOCOL), taken_at)
                for subject, state in states.items()
            ],
        )


def load_snapshots(conn: psycopg.Connection[TupleRow]) -> tuple[dict[str, Any], list[str]]:
    """The states saved by this version, and the subjects whose snapshot was skipped."""
    states: dict[str, Any] = {}
    skipped: list[str] = []
    for subject, version, blob in conn.execute(
        "SELECT subject, version, state FROM detector_snapshots"
    ):
        if version != STATE_VERSION:
            skipped.append(subject)
            continue
        # Our own bytes, written by this service into our own database: trusted input.
        states[subject] = pickle.loads(blob)  # noqa: S301
    return states, skipped
