"""The SQL side of backups: facts for the manifest, the target's state, and TimescaleDB's
restore procedure (a fresh extension at the dump's version, pre_restore, pg_restore,
post_restore)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from services.db.migrate import available
from services.operations.backup.errors import BackupError
from services.operations.backup.manifest import DatabaseFacts, Target

Conn = psycopg.Connection[TupleRow]
# Bookkeeping, present in any migrated database: not data whose presence makes a target full.
NOT_DATA = frozenset({"schema_migrations"})


def public_tables(conn: Conn) -> list[str]:
    """Ordinary tables of the public schema (hypertables included; their chunks live in
    TimescaleDB's own schema and are counted through them)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
    ).fetchall()
    return [str(r[0]) for r in rows]


def row_counts(conn: Conn, tables: list[str], on_table: Callable[[str], None]) -> dict[str, int]:
    counts = {}
    for table in tables:
        query = sql.SQL("SELECT count(*) FROM public.{}").format(sql.Identifier(table))
        row = conn.execute(query).fetchone()
        counts[table] = int(row[0]) if row else 0
        on_table(table)
    return counts


def server_facts(conn: Conn) -> tuple[str, int, str | None, int]:
    """(PostgreSQL version, its major, TimescaleDB's version or None, migration version)."""
    row = conn.execute(
        "SELECT current_setting('server_version'), current_setting('server_version_num')::int,"
        " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
        " to_regclass('public.schema_migrations') IS NOT NULL"
    ).fetchone()
    assert row is not None
    migration = 0
    if row[3]:
        found = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        migration = int(found[0]) if found else 0
    return str(row[0]).split()[0], int(row[1]) // 10000, row[2], migration


def database_facts(conn: Conn, counts: dict[str, int]) -> DatabaseFacts:
    version, major, timescaledb, migration = server_facts(conn)
    if timescaledb is None:
        raise BackupError("the database has no timescaledb extension: not a CareWatch database")
    return DatabaseFacts(
        postgres_version=version,
        postgres_major=major,
        timescaledb_version=timescaledb,
        migration_version=migration,
        tables=counts,
    )


def target_facts(conn: Conn) -> Target:
    _, major, _, _ = server_facts(conn)
    rows = conn.execute(
        "SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb'"
    ).fetchall()
    return Target(
        postgres_major=major,
        timescaledb_versions=frozenset(str(r[0]) for r in rows),
        latest_migration=max((m.version for m in available()), default=0),
    )


def occupied_tables(conn: Conn) -> list[str]:
    """Tables of the public schema holding at least one row (bookkeeping aside)."""
    occupied = []
    for table in public_tables(conn):
        if table in NOT_DATA:
            continue
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM public.{})").format(sql.Identifier(table))
        row = conn.execute(query).fetchone()
        if row and row[0]:
            occupied.append(table)
    return occupied


def other_sessions(conn: Conn) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    ).fetchone()
    return int(row[0]) if row else 0


def wipe(url: str) -> None:
    """Drop everything CareWatch keeps (the public schema, with the extensions in it, which
    takes TimescaleDB's own schemas along) and recreate the schema as PostgreSQL 15 makes it."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
        conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
        conn.execute("COMMENT ON SCHEMA public IS 'standard public schema'")


def pre_restore(url: str, timescaledb_version: str) -> None:
    # A fresh session: CREATE EXTENSION timescaledb must be the first thing a session does
    # once the library is loaded (the wipe's session had it loaded).
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE EXTENSION timescaledb WITH SCHEMA public VERSION {}").format(
                sql.Literal(timescaledb_version)
            )
        )
        conn.execute("SELECT timescaledb_pre_restore()")


def post_restore(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT timescaledb_post_restore()")


def analyze(url: str) -> None:
    """pg_restore leaves the planner without statistics until autovacuum gets round to it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
