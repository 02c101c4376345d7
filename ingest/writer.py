"""Store a batch of decoded messages in one transaction: COPY into staging tables, then
INSERT … ON CONFLICT DO NOTHING into the hypertables, so a redelivered message is a no-op.

Each reading is attributed to the resident its device was assigned to at the reading's ts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.rows import TupleRow

from ingest.presence import SpanRow
from ingest.readings import DeviceMessage
from rules.types import DeviceEvent, DeviceStatus, Motion, Vital

DEAD_LETTER_BYTES = 4096  # what a dead letter keeps of the raw payload
# ... and of the topic: the broker allows 65,535 bytes, a valid one is under 160 characters.
# Together they bound a dead letter's row, so the row cap bounds the table's size.
DEAD_LETTER_TOPIC_CHARS = 512

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
    payload_size: int | None = None  # as received, when `payload` is already only its head

    @property
    def size(self) -> int:
        return len(self.payload) if self.payload_size is None else self.payload_size


Row = tuple[object, ...]


@dataclass(slots=True)
class Batch:
    """Rows per table, ready for COPY, plus the dead letters of the same messages."""

    rows: dict[str, list[Row]] = field(default_factory=lambda: {table: [] for table in COPIES})
    dead: list[DeadLetter] = field(default_factory=list)
    presence: list[SpanRow] = field(default_factory=list)  # spans its messages started or moved

    def add(self, message: DeviceMessage, received_at: datetime) -> None:
        seq = message.header.seq
        for obs in message.observations:
            if isinstance(obs, Vital):
                self.rows["readings"].append(
                    (obs.ts, obs.device_id, obs.metric, obs.value, obs.source, seq, received_at)
                )
            elif isinstance(obs, Motion):
                self.rows["motion_windows"].append(
                    (
                        obs.ts,
                        obs.device_id,
                        obs.hz,
                        list(obs.ax),
                        list(obs.ay),
                        list(obs.az),
                        seq,
                        received_at,
                    )
                )
            elif isinstance(obs, DeviceEvent):
                self.rows["device_events"].append(
                    (obs.ts, obs.device_id, obs.type, obs.zone, obs.confidence, seq, received_at)
                )
            elif isinstance(obs, DeviceStatus):
                self.rows["device_status"].append(
                    (
                        obs.ts,
                        obs.device_id,
                        obs.battery,
                        obs.online,
                        obs.rssi,
                        obs.fw,
                        seq,
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
                            d.topic[:DEAD_LETTER_TOPIC_CHARS],
                            d.device_id,
                            d.reason,
                            d.detail,
                            d.payload[:DEAD_LETTER_BYTES],
                            d.size,
                        )
                        for d in batch.dead
                    ],
                )
            if batch.presence:
                store_spans(cur, batch.presence)
        return WriteResult(staged, stored, len(batch.dead))

    def write_spans(self, rows: list[SpanRow]) -> None:
        """Spans alone (the worker's sweep of devices gone quiet), in a transaction."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            store_spans(cur, rows)


# A span is written when it starts and again as it grows or ends; a redelivered batch may
# write an older state of it, which must not shorten or reopen it.
_STORE_SPANS = """
    INSERT INTO device_presence (device_id, since, last_heard, ended)
    SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::boolean[])
    ON CONFLICT (device_id, since) DO UPDATE SET
        last_heard = greatest(device_presence.last_heard, excluded.last_heard),
        ended = device_presence.ended OR excluded.ended"""
# The devices' latest open spans, for a restarted worker to go on with.
_OPEN_SPANS = """
    SELECT DISTINCT ON (device_id) device_id, since, last_heard, ended FROM device_presence
    WHERE last_heard >= %s AND NOT ended ORDER BY device_id, since DESC"""


def store_spans(cur: psycopg.Cursor[TupleRow], rows: list[SpanRow]) -> None:
    cur.execute(_STORE_SPANS.encode(), [list(column) for column in zip(*rows, strict=True)])


def open_spans(conn: psycopg.Connection[TupleRow], heard_since: datetime) -> list[SpanRow]:
    """The spans still open, of devices heard since `heard_since`."""
    with conn.cursor() as cur:
        cur.execute(_OPEN_SPANS.encode(), [heard_since])
        return [(str(r[0]), r[1], r[2], bool(r[3])) for r in cur.fetchall()]


def drop_expired(
    conn: psycopg.Connection[TupleRow],
    *,
    retention_days: int,
    dead_letter_days: int = 30,
    dead_letter_max_rows: int = 1_000_000,
) -> None:
    """Drop raw chunks past retention (the Apache edition has no retention policy jobs).

    Dropping a chunk takes ownership: the owner's SECURITY DEFINER function (migration 0008)
    does it for the ingest worker's role, for `readings` and `motion_windows` only."""
    conn.execute("SELECT carewatch_drop_expired(%s)", [retention_days])
    conn.execute(
        "DELETE FROM device_presence WHERE last_heard < now() - make_interval(days => %s)",
        [retention_days],
    )
    trim_dead_letters(conn, days=dead_letter_days, max_rows=dead_letter_max_rows)


# Rows per DELETE: each a short transaction (the worker's connection is in autocommit), so a
# large trim neither holds locks long nor writes its WAL in one burst.
TRIM_CHUNK_ROWS = 50_000

_DELETE_OLD = """
    DELETE FROM dead_letters WHERE id IN (
        SELECT id FROM dead_letters
        WHERE received_at < now() - make_interval(days => %s) LIMIT %s)"""
# The oldest id to keep: `id` is an identity column, so the newest rows have the largest.
_KEEP_FROM = "SELECT id FROM dead_letters ORDER BY id DESC OFFSET %s LIMIT 1"
_DELETE_UPTO = """
    DELETE FROM dead_letters WHERE id IN (
        SELECT id FROM dead_letters WHERE id < %s ORDER BY id LIMIT %s)"""


def trim_dead_letters(conn: psycopg.Connection[TupleRow], *, days: int, max_rows: int) -> int:
    """Delete dead letters older than `days` days, then all but the newest `max_rows`.

    Plain statements on `dead_letters` reading only `id` and `received_at`: the role needs
    DELETE and SELECT (id, received_at) on it. Returns how many rows went."""
    if days < 1 or max_rows < 1:
        raise ValueError("keep dead letters at least a day, and at least one")
    deleted = _delete_in_chunks(conn, _DELETE_OLD, days)
    row = conn.execute(_KEEP_FROM, [max_rows - 1]).fetchone()
    if row is not None:
        deleted += _delete_in_chunks(conn, _DELETE_UPTO, row[0])
    return deleted


def _delete_in_chunks(conn: psycopg.Connection[TupleRow], statement: str, bound: object) -> int:
    deleted = 0
    while True:
        n = conn.execute(statement.encode(), [bound, TRIM_CHUNK_ROWS]).rowcount
        deleted += n
        if n < TRIM_CHUNK_ROWS:
            return deleted
