"""services.trends.refresh against the real database: the rollups equal what the raw readings
give for the same buckets, after late readings, repeated refreshes, corrections, and with two
refreshes at once."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from services.settings import ServiceRole
from services.trends.grid import HOUR, MINUTE
from services.trends.refresh import LOCK_KEY, refresh_rollups
from tests.services.trends.support import Reading, raw, refresh, rollup, same, store
from tests.support import Conn, count, new_resident

pytestmark = pytest.mark.services

T0 = datetime(2025, 11, 3, 21, 0, tzinfo=UTC)  # the data crosses a UTC midnight (a raw chunk)


def series(start: datetime, hours: float, every_s: int, seed: int) -> list[Reading]:
    rng = random.Random(seed)
    out: list[Reading] = []
    for i in range(int(hours * 3600 // every_s)):
        ts = start + timedelta(seconds=i * every_s)
        out.append((ts, "hr", float(rng.randint(50, 120))))
        out.append((ts, "spo2", round(rng.uniform(88, 100), 1)))
        if i % 3 == 0:
            out.append((ts + timedelta(milliseconds=250), "rr", float(rng.randint(10, 24))))
    return out


def agrees(db: Conn, resident: int) -> bool:
    return same(rollup(db, "readings_1m", resident), raw(db, MINUTE, resident)) and same(
        rollup(db, "readings_1h", resident), raw(db, HOUR, resident)
    )


@pytest.fixture
def resident(db: Conn, ward: str) -> int:
    return new_resident(db, "Trend Resident")


@pytest.fixture
def ingest(role_db_url: Callable[[ServiceRole], str]) -> Iterator[Conn]:
    """The refresh runs in the ingest worker, as its role."""
    with psycopg.connect(role_db_url("ingest"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def other_conn(db_url: str) -> Iterator[Conn]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


def test_rollups_equal_raw_per_minute_and_hour(ingest: Conn, db: Conn, resident: int) -> None:
    readings = series(T0, 5.5, 7, seed=1)
    # Several statements, as the writer's batches are; one of them arrives out of order.
    for part in (readings[4000:], readings[:1500], readings[1500:4000]):
        store(db, resident, part)
    result = refresh(ingest)
    assert result.notes > 0 and not result.remaining
    assert agrees(db, resident)
    hours = rollup(db, "readings_1h", resident)
    assert {b for _, b in hours} == {T0 + i * HOUR for i in range(6)}
    assert sum(n for _, _, _, n in hours.values()) == len(readings)


def test_a_late_reading_is_folded_in_by_the_next_refresh(
    ingest: Conn, db: Conn, resident: int
) -> None:
    store(db, resident, series(T0, 3, 10, seed=2))
    refresh(ingest)
    before = rollup(db, "readings_1h", resident)[("hr", T0)]
    # A device back on Wi-Fi hours later: one minute already has readings, one had none.
    late = [(T0 + timedelta(minutes=5, seconds=3), "hr", 250.0), (T0 + HOUR * 5, "hr", 21.0)]
    store(db, resident, late)
    assert not agrees(db, resident)
    refresh(ingest)
    assert agrees(db, resident)
    after = rollup(db, "readings_1h", resident)[("hr", T0)]
    assert (after[2], after[3]) == (250.0, before[3] + 1)
    assert rollup(db, "readings_1m", resident)[("hr", T0 + 5 * HOUR)] == (21.0, 21.0, 21.0, 1)


def test_refreshing_again_changes_nothing(ingest: Conn, db: Conn, resident: int) -> None:
    store(db, resident, series(T0, 2, 5, seed=3))
    refresh(ingest)
    minutes, hours = rollup(db, "readings_1m", resident), rollup(db, "readings_1h", resident)
    refresh(ingest)
    assert rollup(db, "readings_1m", resident) == minutes
    assert rollup(db, "readings_1h", resident) == hours
    # A note for minutes that are already right (as a repair would write): rebuilt the same.
    db.execute(
        "INSERT INTO rollup_dirty (resident_id, metrics, first_ts, last_ts)"
        " VALUES (%s, '{hr,spo2,rr}', %s, %s)",
        [resident, T0, T0 + 2 * HOUR],
    )
    refresh(ingest)
    assert rollup(db, "readings_1h", resident) == hours
    assert same(rollup(db, "readings_1m", resident), minutes)


def test_deleted_and_corrected_readings_reach_the_rollups(
    ingest: Conn, db: Conn, resident: int
) -> None:
    store(db, resident, series(T0, 2, 10, seed=4))
    refresh(ingest)
    db.execute(
        "DELETE FROM readings WHERE resident_id = %s AND ts >= %s AND ts < %s",
        [resident, T0, T0 + 10 * MINUTE],
    )
    db.execute(
        "UPDATE readings SET value = 199 WHERE resident_id = %s AND metric = 'hr' AND ts = %s",
        [resident, T0 + HOUR],
    )
    refresh(ingest)
    assert agrees(db, resident)
    assert ("hr", T0) not in rollup(db, "readings_1m", resident)
    assert rollup(db, "readings_1m", resident)[("hr", T0 + HOUR)][2] == 199.0


def test_readings_of_no_resident_are_not_noted(db: Conn, db_url: str) -> None:
    with psycopg.connect(db_url) as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # blind to others
        notes = count(conn, "SELECT count(*) FROM rollup_dirty")
        stored = store(conn, None, [(T0, "hr", 70.0)], device="trend-unassigned")
        assert stored == 1
        assert count(conn, "SELECT count(*) FROM rollup_dirty") == notes


def test_a_refresh_skips_while_another_holds_the_lock(
    ingest: Conn, db: Conn, other_conn: Conn, resident: int
) -> None:
    store(db, resident, series(T0, 1, 10, seed=5))
    with other_conn.transaction():
        other_conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        result = refresh_rollups(ingest, datetime.now(UTC))
        assert result.skipped and result.notes == 0
        assert rollup(db, "readings_1m", resident) == {}
    refresh(ingest)
    assert agrees(db, resident)


def test_two_refreshes_at_once_while_readings_arrive(
    ingest: Conn, role_db_url: Callable[[ServiceRole], str], db: Conn, resident: int
) -> None:
    ingest_url = role_db_url("ingest")
    readings = series(T0, 4, 3, seed=6)
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_refreshing() -> None:
        try:
            with psycopg.connect(ingest_url, autocommit=True) as conn:
                while not stop.is_set():
                    refresh_rollups(conn, datetime.now(UTC), notes_per_step=50)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=keep_refreshing) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(0, len(readings), 500):
            store(db, resident, readings[i : i + 500])
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    refresh(ingest)
    assert agrees(db, resident)


def test_work_is_taken_in_bounded_steps(ingest: Conn, db: Conn, resident: int) -> None:
    for minute in range(60):  # 60 statements, 60 notes
        store(db, resident, series(T0 + minute * MINUTE, 1 / 60, 10, seed=minute))
    first = refresh(ingest, notes_per_step=20, max_steps=2)
    assert (first.steps, first.notes, first.remaining) == (2, 40, True)
    rest = refresh(ingest, notes_per_step=20)
    assert not rest.remaining and rest.steps >= 1
    assert agrees(db, resident)


def test_a_busy_minute_is_rebuilt_once(ingest: Conn, db: Conn, resident: int) -> None:
    """A minute's notes at 2,000 residents (about 200,000; 25,000 here, more than the steps of
    old) are taken in one step: each minute is rebuilt once, not once per step."""
    store(db, resident, series(T0, 1 / 60, 10, seed=1))
    refresh(ingest)
    db.execute(
        "INSERT INTO rollup_dirty (resident_id, metrics, first_ts, last_ts)"
        " SELECT %s, ARRAY['hr'], %s, %s FROM generate_series(1, 25000)",
        [resident, T0, T0 + timedelta(seconds=30)],
    )
    result = refresh(ingest)
    assert (result.steps, result.notes, result.minutes) == (1, 25_000, 1)
    assert agrees(db, resident)
