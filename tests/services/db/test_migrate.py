"""Tests for services.db.migrate: the packaged migrations, and applying them to the real DB."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg.rows import TupleRow

from services.db.migrate import MIGRATION_NAME, Migration, apply_migrations, available


def test_available_is_sorted_unique_and_well_named() -> None:
    found = available()
    assert found, "no migrations packaged"
    versions = [m.version for m in found]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    for m in found:
        assert MIGRATION_NAME.match(f"{m.version:04d}_{m.name}.sql"), m.name
        assert m.sql.strip()


def test_every_sql_file_is_picked_up() -> None:
    # A misnamed file (`0002-foo.sql`, `0003_Foo.sql`) would otherwise be skipped in silence.
    directory = resources.files("services.db").joinpath("migrations")
    files = sorted(e.name for e in directory.iterdir() if e.name.endswith(".sql"))
    assert files == [f"{m.version:04d}_{m.name}.sql" for m in available()]


def test_first_migration_is_the_core_schema() -> None:
    first: Migration = available()[0]
    assert (first.version, first.name) == (1, "core")
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in first.sql


def test_reapplying_on_the_migrated_database_applies_nothing(db_url: str) -> None:
    conn: psycopg.Connection[TupleRow]
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert apply_migrations(conn) == []
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        assert rows.fetchall() == [(m.version, m.name) for m in available()]
        # The advisory lock is released: another starter would not hang.
        locked = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
        ).fetchone()
        assert locked == (0,)


def test_hypertables_exist(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'public'"
        ).fetchall()
    assert {name for (name,) in rows} >= {
        "readings",
        "motion_windows",
        "device_events",
        "device_status",
    }
