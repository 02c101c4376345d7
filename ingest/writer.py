"""Store a batch of decoded messages in one transaction: COPY into staging tables, then
INSERT … ON CONFLICT DO NOTHING into the hypertables, so a redelivered message is a no-op.

Each reading is attributed to the resident its device was assigned to at the reading's ts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from ingest.readings import (
    DeviceMessage,
    EventMessage,
    MotionMessage,
    NumericMessage,
    StatusMessage,
)

DEAD_LETTER_BYTES = 4096  # what a dead letter keeps of the raw payload

STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS stage_readings (
    ts timestamptz, device_id text, metric text, value double precision, source text,
    seq bigint, received_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_motion (
    ts timestamptz, device_id text, hz real, ax real[], ay real[], az real[],
    seq bigint, received_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_events (
    ts timestamptz, device_id text, type text, zone text, confidence real,
    seq bigint, received_at timestamptz) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_status (
    ts timestamptz, device_id text, battery real, online boolean, rssi real, fw text,
    seq bigint, received_at timestamptz) ON COMMIT DELETE ROWS;
"""

INSERTS: dict[str, str] = {
    "readings": """
        INSERT INTO readings (ts, device_id, resident_id, metric, value, source, seq, received_at)
        SELECT s.ts, s.device_id, a.resident_id, s.metric, s.value, s.source, s.seq, s.received_at
        FROM stage_readings s
        LEFT JOIN device_assignments a ON a.device_id = s.device_id AND a.during @> s.ts
        ON CONFLICT DO NOTHING""",
    "motion_windows": """
        INSERT INTO motion_windows (ts, device_id, resident_id, hz, ax, ay, az, seq, received_at)
        SELECT s.ts, s.device_id, a.resident_id, s.hz, s.ax, s.ay, s.az, s.seq, s.received_at
        FROM stage_motion s
        LEFT JOIN device_assignments a ON a.device_id = s.device_id AND a.during @> s.ts
        ON CONFLICT DO NOTHING""",
    "device_events": """
        INSERT INTO device_events (ts, device_id, resident_id, type, zone, confidence, seq,
                                   received_at)
        SELECT s.ts, s.device_id, a.resident_id, s.type, s.zone, s.confidence, s.seq,
               s.received_at
        FROM stage_events s
        LEFT JOIN device_assignments a ON a.device_id = s.device_id AND a.during @> s.ts
        ON CONFLICT DO NOTHING""",
    "device_status": """
        INSERT INTO device_status (ts, device_id, battery, online, rssi, fw, seq, received_at)
        SELECT ts, device_id, battery, online, rssi, fw, seq, received_at FROM stage_status
        ON CONFLICT DO NOTHING""",
}

COPIES: dict[str, tuple[str, list[str]]] = {
    "readings": (
        "COPY stage_readings FROM STDIN (FORMAT BINARY)",
        ["timestamptz", "text", "text", "float8", "text", "int8", "timestamptz"],
    ),
    "motion_windows": (
        "COPY stage_motion FROM STDIN (FORMAT BINARY)",
        [
            "timestamptz",
            "text",
            "float4",
            "float4[]",
            "float4[]",
            "float4[]",
            "int8",
            "timestamptz",
        ],
    ),
    "device_events": (
        "COPY stage_events FROM STDIN (FORMAT BINARY)",
        ["timestamptz", "text", "text", "text", "float4", "int8", "timestamptz"],
    ),
    "device_status": (
        "COPY stage_status FROM STDIN (FORMAT BINARY)",
        ["timestamptz", "text", "float4", "bool", "float4", "text", "int8", "timestamptz"],
    ),
}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    received_at: datetime
    topic: str
    device_id: str | None
    reason: str
    detail: str
    payload: bytes  # the whole payload; truncated to DEAD_LETTER_BYTES when stored


Row = tuple[object, ...]


@dataclass(slots=True)
class Batch:
    """Rows per table, ready for COPY, plus the dead letters of the same messages."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: {table: [] for table in COPIES})
    dead: list[DeadLetter] = field(default_factory=list)

    def add(self, message: DeviceMessage, received_at: datetime) -> None:
        h = message.header
        if isinstance(message, NumericMessage):
            rows = self.rows["readings"]
            for m in message.measurements:
                rows.append((h.ts, h.device_id, m.metric, m.value, h.stream, h.seq, received_at))
        elif isinstance(message, MotionMessage):
            self.rows["motion_windows"].append(
                (
                    h.ts,
                    h.device_id,
                    message.hz,
                    list(message.ax),
                    list(message.ay),
                    list(message.az),
                    h.seq,
                    received_at,
                )
            )
        elif isinstance(message, EventMessage):
            self.rows["device_events"].append(
                (
                    h.ts,
                    h.device_id,
                    message.type,
                    message.zone,
                    message.confidence,
                    h.seq,
                    received_at,
                )
            )
        elif isinstance(message, StatusMessage):
            self.rows["device_status"].append(
                (
                    h.ts,
                    h.device_id,
                    message.battery,
                    message.online,
                    message.rssi,
                    message.fw,
                    h.seq,
                    received_at,
                )
            )

    @property
    def row_count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


@dataclass(frozen=True, slots=True)
class WriteResult:
    staged: dict[str, int]
    stored: dict[str, int]
    dead_lettered: int

    @property
    def duplicates(self) -> dict[str, int]:
        return {table: self.staged[table] - self.stored[table] for table in self.staged}


class BatchWriter:
    """Writes batches through one connection it owns the transactions of."""

    def __init__(self, conn: psycopg.Connection[TupleRow]) -> None:
        self.conn = conn
        with conn.transaction():
            conn.execute(STAGING_DDL.encode())

    def write(self, batch: Batch) -> WriteResult:
        staged: dict[str, int] = {}
        stored: dict[str, int] = {}
        with self.conn.transaction(), self.conn.cursor() as cur:
            for table, rows in batch.rows.items():
                staged[table] = len(rows)
                stored[table] = 0
                if not rows:
                    continue
                statement, types = COPIES[table]
                with cur.copy(statement.encode()) as copy:
                    copy.set_types(types)
                    for row in rows:
                        copy.write_row(row)
                cur.execute(INSERTS[table].encode())
                stored[table] = cur.rowcount
            if batch.dead:
                cur.executemany(
                    "INSERT INTO dead_letters (received_at, topic, device_id, reason, detail,"
                    " payload, payload_size) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            d.received_at,
                            d.topic,
                            d.device_id,
                            d.reason,
                            d.detail,
                            d.payload[:DEAD_LETTER_BYTES],
                            len(d.payload),
                        )
                        for d in batch.dead
                    ],
                )
        return WriteResult(staged, stored, len(batch.dead))


def drop_expired(conn: psycopg.Connection[TupleRow], *, retention_days: int) -> None:
    """Drop raw chunks past retention (the Apache edition has no retention policy jobs)."""
    for table in ("readings", "motion_windows"):
        conn.execute(
            "SELECT drop_chunks(%s::regclass, older_than => now() - make_interval(days => %s))",
            [table, retention_days],
        )
