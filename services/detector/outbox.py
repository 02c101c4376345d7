"""Alert candidates into the durable hand-off table the alert service reads."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.types import AlertCandidate


def write_candidates(
    conn: psycopg.Connection[TupleRow], candidates: Sequence[AlertCandidate]
) -> int:
    """Insert; a candidate already there (the same input replayed after a crash) is skipped.
    Returns how many were new."""
    if not candidates:
        return 0
    new = 0
    with conn.cursor() as cur:
        for c in candidates:
            cur.execute(
                "INSERT INTO alert_candidates (rule_id, action, subject, dedupe_key, severity,"
                ' ts, title, "values", suggestion, audience)'
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (dedupe_key, action, ts) DO NOTHING",
                [
                    c.rule_id,
                    c.action,
                    c.subject,
                    c.dedupe_key,
                    c.severity,
                    c.ts,
                    c.title,
                    Jsonb(c.values),
                    c.suggestion,
                    c.audience,
                ],
            )
            new += cur.rowcount
    return new
