"""Dead-letter retention against the real TimescaleDB, as the ingest worker's own database role
(migration 0008) runs it: by age, then a row cap, in chunks; and what a dead letter keeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import TupleRow

from ingest import writer
from ingest.writer import (
    DEAD_LETTER_BYTES,
    DEAD_LETTER_TOPIC_CHARS,
    Batch,
    BatchWriter,
    DeadLetter,
    trim_dead_letters,
)
from services.settings import ServiceRole

Conn = psycopg.Connection[TupleRow]
NOW = datetime.now(UTC)


@pytest.fixture
def ingest_conn(role_db_url: Callable[[ServiceRole], str]) -> Iterator[Conn]:
    """The ingest role, in one REPEATABLE READ transaction that is rolled back: other tests'
    dead letters (and those the session's worker commits meanwhile) are neither seen nor lost."""
    with psycopg.connect(role_db_url("ingest")) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            yield conn
        finally:
            conn.rollback()


def add(conn: Conn, *ages: timedelta) -> list[int]:
    ids = []
    for age in ages:
        row = conn.execute(
            "INSERT INTO dead_letters (received_at, topic, device_id, reason, detail, payload,"
            " payload_size) VALUES (%s, 't', 'retention-test', 'bad_topic', 'd', '', 0)"
            " RETURNING id",
            [NOW - age],
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


def visible(conn: Conn) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT id FROM dead_letters ORDER BY id")]


def test_dead_letters_older_than_the_age_go(ingest_conn: Conn) -> None:
    old = add(ingest_conn, timedelta(days=40), timedelta(days=30, minutes=1))
    kept = add(ingest_conn, timedelta(days=29, hours=23), timedelta(0))
    trim_dead_letters(ingest_conn, days=30, max_rows=10**9)
    remaining = set(visible(ingest_conn))
    assert not remaining & set(old)
    assert set(kept) <= remaining


def test_only_the_newest_rows_up_to_the_cap_stay(ingest_conn: Conn) -> None:
    before = len(visible(ingest_conn))
    ids = add(ingest_conn, *(timedelta(minutes=n) for n in range(10, 0, -1)))
    deleted = trim_dead_letters(ingest_conn, days=30, max_rows=4)
    assert visible(ingest_conn) == ids[-4:]
    assert deleted >= before + 6  # the older ones, whatever age


def test_large_trims_go_in_chunks(ingest_conn: Conn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "TRIM_CHUNK_ROWS", 2)
    old = add(ingest_conn, *(timedelta(days=60) for _ in range(7)))
    new = add(ingest_conn, *(timedelta(seconds=n) for n in range(5, 0, -1)))
    trim_dead_letters(ingest_conn, days=30, max_rows=3)
    assert visible(ingest_conn) == new[-3:]
    assert not set(old) & set(visible(ingest_conn))


def test_nonsense_limits_are_refused(ingest_conn: Conn) -> None:
    with pytest.raises(ValueError, match="at least"):
        trim_dead_letters(ingest_conn, days=0, max_rows=10)
    with pytest.raises(ValueError, match="at least"):
        trim_dead_letters(ingest_conn, days=30, max_rows=0)


def test_a_dead_letter_keeps_a_bounded_head_of_topic_and_payload(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:  # the owner, to read the row back; rolled back
        try:
            keeps_a_bounded_head(conn)
        finally:
            conn.rollback()


def keeps_a_bounded_head(conn: Conn) -> None:
    batch = Batch()
    topic = "carewatch/v1/t1/retention-test/" + "x" * 60_000
    batch.dead.append(
        DeadLetter(NOW, topic, "retention-test", "oversized", "d", b"y" * 5000, 1_000_000)
    )
    BatchWriter(conn).write(batch)
    row = conn.execute(
        "SELECT topic, length(payload), payload_size FROM dead_letters"
        " WHERE device_id = 'retention-test'"
    ).fetchone()
    assert row == (topic[:DEAD_LETTER_TOPIC_CHARS], DEAD_LETTER_BYTES, 1_000_000)
