"""The services' database roles (migration 0008) against the real database: each does its job
(the service suites run under them) and no more; these check the edges of what they may."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors

from services.settings import SERVICE_ROLES, ServiceRole, db_role
from tests.support import Conn, count, new_resident

pytestmark = pytest.mark.services

# Tables only the owner touches. A new table must be granted to the service that uses it, or
# be added here on purpose: there are no default privileges (docs/security.md).
OWNER_ONLY = {"schema_migrations"}


@pytest.fixture
def as_role(role_db_url: Callable[[ServiceRole], str]) -> Iterator[Callable[[ServiceRole], Conn]]:
    opened: list[Conn] = []

    def connect(role: ServiceRole) -> Conn:
        conn = psycopg.connect(role_db_url(role), autocommit=True)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def refused(conn: Conn, statement: str, *params: object) -> bool:
    """Whether the statement fails for want of a privilege (owner-only DDL included)."""
    try:
        conn.execute(statement.encode(), params)
    except errors.InsufficientPrivilege:
        return True
    return False


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_each_service_connects_as_its_own_unprivileged_role(
    as_role: Callable[[ServiceRole], Conn], role: ServiceRole
) -> None:
    conn = as_role(role)
    row = conn.execute(
        "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (db_role(role), False, False, False, False)
    # Temporary tables aside: the ingest worker's staging tables are its own.
    owned = count(
        conn,
        "SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole"
        " AND relpersistence <> 't'",
    )
    assert owned == 0


def test_ingest_stores_readings_but_cannot_read_who_residents_are(
    as_role: Callable[[ServiceRole], Conn], db: Conn, ward: str
) -> None:
    resident = new_resident(db, "Wang Xiuying")
    ingest = as_role("ingest")
    device = f"roles-{uuid.uuid4().hex[:8]}"
    ingest.execute(
        "INSERT INTO readings (ts, device_id, resident_id, metric, value, source, received_at)"
        " VALUES (now(), %s, %s, 'hr', 72, 'vitals', now())",
        [device, resident],
    )
    assert count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 1
    assert refused(ingest, "SELECT display_name FROM residents")
    assert refused(ingest, "SELECT * FROM residents WHERE resident_id = %s", resident)
    assert refused(ingest, "SELECT secret_hash FROM devices")
    assert refused(ingest, "SELECT password_hash FROM users")
    assert refused(ingest, "SELECT * FROM alerts")
    assert refused(ingest, "UPDATE readings SET value = 0 WHERE device_id = %s", device)
    assert refused(ingest, "DELETE FROM readings WHERE device_id = %s", device)


def test_the_detector_reads_profiles_but_not_names_or_rooms(
    as_role: Callable[[ServiceRole], Conn], db: Conn, ward: str
) -> None:
    resident = new_resident(db, "Li Wei")
    detector = as_role("detector")
    row = detector.execute(
        "SELECT site_id, fall_risk, news2_scale FROM residents WHERE resident_id = %s", [resident]
    ).fetchone()
    assert row == (ward, False, 1)
    for column in ("display_name", "room", "bed"):
        assert refused(detector, f"SELECT {column} FROM residents")
    assert refused(detector, "SELECT * FROM readings LIMIT 1")
    assert refused(detector, "UPDATE alert_candidates SET consumed_at = now()")


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE readings",
        "ALTER TABLE residents ADD COLUMN x int",
        "TRUNCATE audit_log",
        "DELETE FROM audit_log",
        "UPDATE audit_log SET actor = 'someone else'",
        "CREATE TABLE public.mine (x int)",
        "CREATE TEMP TABLE scratch (x int)",
        "SELECT drop_chunks('readings', older_than => now())",
        "SELECT carewatch_drop_expired(1)",
        "DELETE FROM detector_snapshots",
        "INSERT INTO schema_migrations VALUES (999, 'x')",
    ],
    ids=[
        "drop",
        "alter",
        "truncate",
        "delete-audit",
        "rewrite-audit",
        "create-table",
        "temp-table",
        "drop-chunks",
        "retention-function",
        "snapshots",
        "migrations",
    ],
)
def test_the_api_cannot_change_the_schema_or_the_record(
    as_role: Callable[[ServiceRole], Conn], statement: str
) -> None:
    assert refused(as_role("api"), statement)


def test_retention_through_the_definer_function_only_and_never_under_a_day(
    as_role: Callable[[ServiceRole], Conn], db: Conn
) -> None:
    ingest = as_role("ingest")
    device = f"roles-{uuid.uuid4().hex[:8]}"
    old = datetime.now(UTC) - timedelta(days=900)
    ingest.execute(
        "INSERT INTO readings (ts, device_id, metric, value, source, received_at)"
        " VALUES (%s, %s, 'hr', 70, 'vitals', now())",
        [old, device],
    )
    assert refused(ingest, "SELECT drop_chunks('readings', older_than => now())")
    for days in (0, -1):
        with pytest.raises(errors.RaiseException):
            ingest.execute("SELECT carewatch_drop_expired(%s)", [days])
    ingest.execute("SELECT carewatch_drop_expired(%s)", [800])
    assert count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 0


def test_the_api_pages_only_drills_and_through_the_definer_function(
    as_role: Callable[[ServiceRole], Conn], db: Conn
) -> None:
    api = as_role("api")
    assert refused(
        api,
        "INSERT INTO alert_candidates (rule_id, action, subject, dedupe_key, severity, ts,"
        " title, audience) VALUES ('fall', 'raise', 'resident:1', 'fall:1', 'critical', now(),"
        " 'forged', 'caregiver')",
    )
    db.execute("INSERT INTO sites (site_id, name) VALUES ('roles-s', 'R') ON CONFLICT DO NOTHING")
    db.execute(
        "INSERT INTO units (site_id, unit_id, name) VALUES ('roles-s', 'u', 'U')"
        " ON CONFLICT DO NOTHING"
    )
    opened = "INSERT INTO outbreaks (site_id, unit_id, syndrome, rule_id, drill, opened_at,"
    opened += " updated_at) VALUES ('roles-s', 'u', 'gi', 'outbreak.gi', %s, now(), now())"
    real = db.execute(opened + " RETURNING outbreak_id", [False]).fetchone()
    drill = db.execute(opened + " RETURNING outbreak_id", [True]).fetchone()
    assert real is not None and drill is not None
    with pytest.raises(errors.RaiseException):
        api.execute("SELECT carewatch_page_drill(%s, 'x', '{}')", [real[0]])
    api.execute("SELECT carewatch_page_drill(%s, 'Drill', '{\"drill\": 0}')", [drill[0]])
    row = db.execute(
        "SELECT subject, audience, \"values\"->>'drill' FROM alert_candidates WHERE origin = %s",
        [f"drill:{drill[0]}"],
    ).fetchone()
    assert row == ("unit:roles-s/u", "infection_control", "1")


def test_every_table_is_given_to_a_service_or_kept_by_the_owner_on_purpose(db: Conn) -> None:
    rows = db.execute(
        "SELECT c.relname, array_agg(DISTINCT g.grantee::regrole::text)"
        "   FILTER (WHERE g.grantee::regrole::text = ANY(%s))"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " LEFT JOIN LATERAL aclexplode(c.relacl) g ON true"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p')"
        " GROUP BY c.relname",
        [[db_role(r) for r in SERVICE_ROLES]],
    ).fetchall()
    nobody = {name for name, roles in rows if roles is None}
    assert nobody == OWNER_ONLY, "grant the new table to its service (see 0008_roles.sql)"
    # Nothing is granted to everybody, in tables or in the retention function.
    public = count(
        db,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,"
        " aclexplode(c.relacl) g WHERE n.nspname = 'public' AND g.grantee = 0",
    )
    assert public == 0
    assert refused_to_public(db, "carewatch_drop_expired(integer)")


def refused_to_public(db: Conn, function: str) -> bool:
    row = db.execute(
        "SELECT has_function_privilege('public', %s, 'EXECUTE')", [function]
    ).fetchone()
    return row == (False,)
