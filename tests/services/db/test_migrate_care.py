"""Migration 0022 (goals of care, status, consents) on a database holding residents admitted
before it: they stay as they were, admitted, on no comfort care, with no consent on record
(not given), and their devices stay theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import errors, sql

from services.db.migrate import available
from tests.support import Conn

pytestmark = pytest.mark.services

CARE_VERSION = 22


@pytest.fixture
def scratch_db(db: Conn, db_url: str) -> Iterator[Conn]:
    """A database of its own on the session's server, dropped at the end."""
    name = f"mig_care_{uuid.uuid4().hex[:8]}"
    db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(db_url)
    try:
        with psycopg.connect(urlunsplit(parts._replace(path=f"/{name}")), autocommit=True) as conn:
            yield conn
    finally:
        db.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_existing_residents_are_carried_forward_admitted(scratch_db: Conn) -> None:
    migrations = available()
    assert CARE_VERSION in [m.version for m in migrations]
    for m in migrations:
        if m.version < CARE_VERSION:
            scratch_db.execute(m.sql.encode())
    scratch_db.execute("INSERT INTO sites (site_id, name) VALUES ('old', 'Old site')")
    scratch_db.execute("INSERT INTO units (site_id, unit_id, name) VALUES ('old', 'u1', 'U')")
    scratch_db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES ('old', 'u1', '王秀英')"
    )
    before = scratch_db.execute("SELECT resident_id, display_name FROM residents").fetchall()

    for m in migrations:
        if m.version >= CARE_VERSION:
            scratch_db.execute(m.sql.encode())

    after = scratch_db.execute(
        "SELECT resident_id, display_name, status, comfort_care FROM residents"
    ).fetchall()
    assert after == [(*before[0], "admitted", False)]
    assert scratch_db.execute("SELECT count(*) FROM resident_consents").fetchone() == (0,)
    with pytest.raises(errors.CheckViolation):
        scratch_db.execute("UPDATE residents SET status = 'asleep'")
    with pytest.raises(errors.CheckViolation):
        scratch_db.execute(
            "INSERT INTO resident_consents (resident_id, kind, granted, recorded_by)"
            " VALUES (%s, 'marketing', true, 'x')",
            [before[0][0]],
        )
