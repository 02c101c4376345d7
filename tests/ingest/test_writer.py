"""Tests for ingest.writer: rows per table from typed messages (pure), and writes, duplicates,
dead letters, resident attribution and retention against the real TimescaleDB."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import TupleRow

from ingest.readings import (
    DeviceMessage,
    Header,
)
from ingest.writer import (
    DEAD_LETTER_BYTES,
    Batch,
    BatchWriter,
    DeadLetter,
    drop_expired,
    open_spans,
)
from rules.types import DeviceEvent, DeviceStatus, Motion, Vital
from rules.vocabulary import Stream
from services.settings import ServiceRole
from tests.support import SITE, count, new_resident

Conn = psycopg.Connection[TupleRow]
TABLES = ("readings", "motion_windows", "device_events", "device_status")
# Recent: the ingest worker, if running in the same session, drops chunks past retention.
TS = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
RECEIVED = TS + timedelta(seconds=2)


def header(device_id: str, stream: Stream, ts: datetime = TS, seq: int | None = 1) -> Header:
    return Header(site_id=SITE, device_id=device_id, stream=stream, ts=ts, seq=seq)


def vitals(device_id: str, ts: datetime = TS, seq: int | None = 1) -> DeviceMessage:
    return DeviceMessage(
        header(device_id, "vitals", ts, seq),
        (Vital(ts, "hr", 72.0, "vitals", device_id), Vital(ts, "spo2", 97.0, "vitals", device_id)),
    )


def motion(device_id: str, ts: datetime = TS) -> DeviceMessage:
    return DeviceMessage(
        header(device_id, "motion", ts, 2),
        (Motion(ts, device_id, 50.0, (0.0, 0.5), (0.25, -0.25), (1.0, 1.0)),),
    )


def event(device_id: str, ts: datetime = TS) -> DeviceMessage:
    return DeviceMessage(
        header(device_id, "event", ts, 3), (DeviceEvent(ts, device_id, "fall", "bath", 0.5),)
    )


def status(device_id: str, ts: datetime = TS) -> DeviceMessage:
    return DeviceMessage(
        header(device_id, "status", ts, None),
        (DeviceStatus(ts, device_id, battery=80.0, online=True, rssi=-60.0, fw="1.2"),),
    )


def new_device_id() -> str:
    return f"w-{uuid.uuid4().hex[:16]}"


# --- Batch.add (pure) ----------------------------------------------------------------------

D = "dev-1"
ADD_CASES: list[tuple[DeviceMessage, str, list[tuple[object, ...]]]] = [
    (
        vitals(D),
        "readings",
        [(TS, D, "hr", 72.0, "vitals", 1, RECEIVED), (TS, D, "spo2", 97.0, "vitals", 1, RECEIVED)],
    ),
    (
        DeviceMessage(header(D, "bed", seq=None), (Vital(TS, "rr", 14.0, "bed", D),)),
        "readings",
        [(TS, D, "rr", 14.0, "bed", None, RECEIVED)],
    ),
    (
        motion(D),
        "motion_windows",
        [(TS, D, 50.0, [0.0, 0.5], [0.25, -0.25], [1.0, 1.0], 2, RECEIVED)],
    ),
    (event(D), "device_events", [(TS, D, "fall", "bath", 0.5, 3, RECEIVED)]),
    (
        DeviceMessage(header(D, "event", seq=4), (DeviceEvent(TS, D, "sos"),)),
        "device_events",
        [(TS, D, "sos", None, None, 4, RECEIVED)],
    ),
    (status(D), "device_status", [(TS, D, 80.0, True, -60.0, "1.2", None, RECEIVED)]),
    (
        DeviceMessage(header(D, "status"), (DeviceStatus(TS, D, online=False),)),
        "device_status",
        [(TS, D, None, False, None, None, 1, RECEIVED)],
    ),
]


@pytest.mark.parametrize(
    ("message", "table", "rows"),
    ADD_CASES,
    ids=["vitals", "bed", "motion", "event", "event-bare", "status", "status-last-will"],
)
def test_batch_add_makes_rows_for_one_table(
    message: DeviceMessage, table: str, rows: list[tuple[object, ...]]
) -> None:
    batch = Batch()
    batch.add(message, RECEIVED)
    assert batch.rows == {t: rows if t == table else [] for t in TABLES}
    assert batch.row_count == len(rows)
    assert batch.dead == []


def test_batch_accumulates_across_messages() -> None:
    batch = Batch()
    for message in (vitals(D), vitals(D, seq=2), motion(D), event(D), status(D)):
        batch.add(message, RECEIVED)
    assert {t: len(r) for t, r in batch.rows.items()} == {
        "readings": 4,
        "motion_windows": 1,
        "device_events": 1,
        "device_status": 1,
    }
    assert batch.row_count == 7


# --- BatchWriter against the real database -------------------------------------------------


@pytest.fixture
def conn(db_url: str) -> Iterator[Conn]:
    # As the worker opens it: autocommit, the writer owns the transactions.
    with psycopg.connect(db_url, autocommit=True) as c:
        yield c


@pytest.fixture
def writer(role_db_url: Callable[[ServiceRole], str]) -> Iterator[BatchWriter]:
    # As the worker's role (migration 0008); `conn`, the owner's, checks what it stored.
    with psycopg.connect(role_db_url("ingest"), autocommit=True) as c:
        yield BatchWriter(c)


def one_of_each(device_id: str) -> Batch:
    batch = Batch()
    for message in (vitals(device_id), motion(device_id), event(device_id), status(device_id)):
        batch.add(message, RECEIVED)
    return batch


def test_write_stores_every_table(writer: BatchWriter, conn: Conn) -> None:
    device = new_device_id()
    result = writer.write(one_of_each(device))
    expected = {"readings": 2, "motion_windows": 1, "device_events": 1, "device_status": 1}
    assert result.staged == expected
    assert result.stored == expected
    assert result.duplicates == dict.fromkeys(TABLES, 0)
    assert result.dead_lettered == 0
    assert conn.execute(
        "SELECT ts, metric, value, source, seq, received_at, resident_id FROM readings"
        " WHERE device_id = %s ORDER BY metric",
        [device],
    ).fetchall() == [
        (TS, "hr", 72.0, "vitals", 1, RECEIVED, None),
        (TS, "spo2", 97.0, "vitals", 1, RECEIVED, None),
    ]
    assert conn.execute(
        "SELECT hz, ax, ay, az, seq FROM motion_windows WHERE device_id = %s", [device]
    ).fetchall() == [(50.0, [0.0, 0.5], [0.25, -0.25], [1.0, 1.0], 2)]
    assert conn.execute(
        "SELECT type, zone, confidence, seq FROM device_events WHERE device_id = %s", [device]
    ).fetchall() == [("fall", "bath", 0.5, 3)]
    assert conn.execute(
        "SELECT battery, online, rssi, fw, seq FROM device_status WHERE device_id = %s", [device]
    ).fetchall() == [(80.0, True, -60.0, "1.2", None)]


def test_second_write_of_the_same_batch_is_all_duplicates(writer: BatchWriter, conn: Conn) -> None:
    device = new_device_id()
    batch = one_of_each(device)
    first = writer.write(batch)
    again = writer.write(batch)
    assert again.staged == first.staged
    assert again.stored == dict.fromkeys(TABLES, 0)
    assert again.duplicates == first.staged
    for table in TABLES:
        stored = count(conn, f"SELECT count(*) FROM {table} WHERE device_id = %s", device)
        assert stored == first.stored[table], table


def test_duplicates_within_one_batch_are_stored_once(writer: BatchWriter, conn: Conn) -> None:
    device = new_device_id()
    batch = Batch()
    batch.add(vitals(device, seq=1), RECEIVED)
    batch.add(vitals(device, seq=1), RECEIVED + timedelta(seconds=30))  # a redelivery
    result = writer.write(batch)
    assert (result.staged["readings"], result.stored["readings"]) == (4, 2)
    assert result.duplicates["readings"] == 2
    assert count(conn, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 2


def test_staging_tables_are_empty_after_each_write(writer: BatchWriter) -> None:
    writer.write(one_of_each(new_device_id()))
    # Temp tables are per session: this is the writer's own staging.
    for stage in ("stage_readings", "stage_motion", "stage_events", "stage_status"):
        assert count(writer.conn, f"SELECT count(*) FROM {stage}") == 0, stage


def dead_letter(device_id: str | None, payload: bytes, topic: str | None = None) -> DeadLetter:
    return DeadLetter(
        received_at=RECEIVED,
        topic=topic or f"carewatch/v1/t1/{device_id}/vitals",
        device_id=device_id,
        reason="malformed_json",
        detail="Expecting value",
        payload=payload,
    )


@pytest.mark.parametrize(
    "size",
    [0, 10, DEAD_LETTER_BYTES - 1, DEAD_LETTER_BYTES, DEAD_LETTER_BYTES + 1, 70_000],
    ids=["empty", "small", "just-under", "exact", "just-over", "large"],
)
def test_dead_letter_payload_is_truncated_and_its_size_kept(
    writer: BatchWriter, conn: Conn, size: int
) -> None:
    device = new_device_id()
    payload = bytes(i % 251 for i in range(size))
    batch = Batch()
    batch.dead.append(dead_letter(device, payload))
    result = writer.write(batch)
    assert result.dead_lettered == 1
    assert result.stored == dict.fromkeys(TABLES, 0)
    rows = conn.execute(
        "SELECT received_at, topic, reason, detail, payload, payload_size FROM dead_letters"
        " WHERE device_id = %s",
        [device],
    ).fetchall()
    assert rows == [
        (
            RECEIVED,
            f"carewatch/v1/t1/{device}/vitals",
            "malformed_json",
            "Expecting value",
            payload[:DEAD_LETTER_BYTES],
            size,
        )
    ]


def test_dead_letters_and_readings_in_one_batch(writer: BatchWriter, conn: Conn) -> None:
    device = new_device_id()
    batch = one_of_each(device)
    garbage_topic = f"garbage/{device}"
    batch.dead.extend([dead_letter(device, b"{"), dead_letter(None, b"[", garbage_topic)])
    result = writer.write(batch)
    assert result.dead_lettered == 2
    assert result.stored["readings"] == 2
    assert count(conn, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 2
    assert count(conn, "SELECT count(*) FROM dead_letters WHERE device_id = %s", device) == 1
    assert (
        count(
            conn,
            "SELECT count(*) FROM dead_letters WHERE device_id IS NULL AND topic = %s",
            garbage_topic,
        )
        == 1
    )


def insert_device(conn: Conn, device_id: str) -> None:
    conn.execute(
        "INSERT INTO devices (device_id, site_id, kind, secret_hash)"
        " VALUES (%s, %s, 'wearable', 'not-a-real-hash')",
        [device_id, SITE],
    )


def assign(
    conn: Conn, device_id: str, resident_id: int, lower: datetime, upper: datetime | None
) -> None:
    conn.execute(
        "INSERT INTO device_assignments (device_id, resident_id, during)"
        " VALUES (%s, %s, tstzrange(%s, %s))",
        [device_id, resident_id, lower, upper],
    )


def test_readings_go_to_the_resident_assigned_at_their_ts(
    writer: BatchWriter, conn: Conn, ward: str
) -> None:
    device = new_device_id()
    insert_device(conn, device)
    first, second = new_resident(conn, "First wearer"), new_resident(conn, "Second wearer")
    handover = TS + timedelta(hours=1)
    assign(conn, device, first, TS, handover)
    assign(conn, device, second, handover, None)
    # (ts, who wore the device then)
    cases = [
        (TS - timedelta(seconds=1), None),  # before the first assignment
        (TS, first),  # a range includes its start
        (handover - timedelta(milliseconds=1), first),
        (handover, second),  # … and excludes its end
        (TS + timedelta(days=30), second),  # the open-ended current assignment
    ]
    batch = Batch()
    for i, (ts, _who) in enumerate(cases):
        batch.add(vitals(device, ts, seq=i), RECEIVED)
        batch.add(motion(device, ts), RECEIVED)
        batch.add(event(device, ts), RECEIVED)
    result = writer.write(batch)
    assert result.stored == {
        "readings": 2 * len(cases),
        "motion_windows": len(cases),
        "device_events": len(cases),
        "device_status": 0,
    }
    expected = {ts: who for ts, who in cases}
    for table in ("readings", "motion_windows", "device_events"):
        rows = conn.execute(
            f"SELECT ts, resident_id FROM {table} WHERE device_id = %s".encode(), [device]
        ).fetchall()
        assert len(rows) == result.stored[table]
        assert {ts: who for ts, who in rows} == expected, table


def test_drop_expired_drops_old_chunks_and_keeps_recent_rows(
    writer: BatchWriter, conn: Conn
) -> None:
    device = new_device_id()
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=400), now - timedelta(hours=1)
    batch = Batch()
    for ts in (old, recent):
        batch.add(vitals(device, ts), ts)
        batch.add(motion(device, ts), ts)
    assert writer.write(batch).stored["readings"] == 4

    drop_expired(writer.conn, retention_days=365)

    for table in ("readings", "motion_windows"):
        kept = conn.execute(
            f"SELECT DISTINCT ts FROM {table} WHERE device_id = %s".encode(), [device]
        ).fetchall()
        assert kept == [(recent,)], table


def test_spans_are_stored_with_the_batch_never_shortened_and_go_with_retention(
    writer: BatchWriter, conn: Conn
) -> None:
    device = new_device_id()
    now = datetime.now(UTC)
    old, since = now - timedelta(days=400), now - timedelta(minutes=3)
    batch = one_of_each(device)
    batch.presence = [(device, old, old, False), (device, since, now, False)]
    writer.write(batch)
    writer.write_spans([(device, since, since, True)])  # an older state, redelivered: ends it
    heard_lately = now - timedelta(minutes=5)
    assert device not in {row[0] for row in open_spans(writer.conn, heard_lately)}
    stored = (
        "SELECT since, last_heard, ended FROM device_presence WHERE device_id = %s ORDER BY since"
    )
    assert conn.execute(stored, [device]).fetchall() == [
        (old, old, False),
        (since, now, True),
    ]
    writer.write_spans([(device, now, now, False)])
    assert (device, now, now, False) in open_spans(writer.conn, heard_lately)

    drop_expired(writer.conn, retention_days=365)

    assert conn.execute(stored, [device]).fetchall() == [(since, now, True), (now, now, False)]
