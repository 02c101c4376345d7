"""Alert candidates into the durable hand-off table the alert service reads.

A candidate's identity is the input it was computed from (its `origin`), not its `ts`: every
candidate stamped with the processing time in one batch shares a `ts`, and keying on it
dropped a second update of the same alert (NEWS2 3 → 8 over three observations entered in one
round). Replaying an input after a crash gives the same origins, which are skipped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.types import AlertCandidate, DeviceEvent, Motion, Observation, Vital


def input_key(obs: Observation) -> str:
    """A device observation's identity: the same reading delivered again (a replay after a
    crash, a QoS 1 duplicate) has the same key; two readings never do."""
    ts = obs.ts.isoformat()
    if isinstance(obs, Vital):
        return f"{obs.device_id}/{obs.source}/{obs.metric}@{ts}"
    if isinstance(obs, Motion):
        return f"{obs.device_id}/motion@{ts}"
    if isinstance(obs, DeviceEvent):
        return f"{obs.device_id}/event/{obs.type}@{ts}"
    return f"{obs.device_id}/status@{ts}"


def with_origin(
    candidates: Iterable[AlertCandidate],
    input_key: str | None,
    lag: timedelta | None = None,
) -> list[AlertCandidate]:
    """Stamp the candidates one input produced with its identity, numbered within the input
    per dedupe key and action (an input may update one alert twice). Without an input (time
    passing), the identity is the data time the condition was established, as it always was.

    `lag`: how long after its data time the input (or the stream time of a tick) reached the
    detector. It sets `arrived_at` to the candidate's own time plus that lag, which is what the
    alert service reads as lateness: a long lie stamped with its impact time, or an offline
    episode with the time last heard, is not late when the tick that raised it is live."""
    late_by = max(lag, timedelta(0)) if lag is not None else None
    out: list[AlertCandidate] = []
    seen: dict[tuple[str, str, str], int] = {}
    for c in candidates:
        base = input_key if input_key is not None else f"at:{c.ts.isoformat()}"
        n = seen.get((c.dedupe_key, c.action, base), 0)
        seen[(c.dedupe_key, c.action, base)] = n + 1
        arrived = c.ts + late_by if late_by is not None else c.arrived_at
        out.append(replace(c, origin=f"{base}#{n}", arrived_at=arrived))
    return out


def write_candidates(
    conn: psycopg.Connection[TupleRow],
    candidates: Sequence[AlertCandidate],
    arrived_at: datetime | None = None,
    *,
    written: list[AlertCandidate] | None = None,
) -> int:
    """Insert; a candidate already there (the same input replayed after a crash) is skipped.
    Returns how many were new (and appends them to `written`, if given). One without an
    origin is keyed by its data time.

    `arrived_at`: when the data behind them reached the detector, on the detector's clock (the
    alert service compares it with their data time to tell late data), unless a candidate has
    its own (`with_origin`); default the database's clock. A replay at speed
    (bench/alarm_burden.py) runs the detector on the stream's clock."""
    if not candidates:
        return 0
    new = 0
    with conn.cursor() as cur:
        for c in candidates:
            origin = c.origin if c.origin is not None else f"at:{c.ts.isoformat()}#0"
            cur.execute(
                "INSERT INTO alert_candidates (rule_id, action, subject, dedupe_key, severity,"
                ' ts, title, "values", suggestion, audience, origin, created_at)'
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))"
                " ON CONFLICT (dedupe_key, action, origin) DO NOTHING",
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
                    origin,
                    c.arrived_at or arrived_at,
                ],
            )
            new += cur.rowcount
            if written is not None and cur.rowcount == 1:
                written.append(c)
    return new
