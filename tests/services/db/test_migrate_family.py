"""Migration 0024 (family beds and family doctors) on a database from before it: sites become
institutions, residents have no plan and no special needs, accounts keep their roles (a
family login needs its resident), queued notifications stay; new roles and kinds are taken."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.services.db.conftest import migrate
from tests.support import Conn

pytestmark = pytest.mark.services

FAMILY_VERSION = 24


def test_existing_sites_residents_users_and_notifications_are_carried_forward(
    scratch_db: Conn,
) -> None:
    migrate(scratch_db, below=FAMILY_VERSION)
    db = scratch_db
    db.execute("INSERT INTO sites (site_id, name) VALUES ('old', 'Old site')")
    db.execute("INSERT INTO units (site_id, unit_id, name) VALUES ('old', 'u1', 'U')")
    db.execute("INSERT INTO residents (site_id, unit_id, display_name) VALUES ('old', 'u1', '李')")
    db.execute(
        "INSERT INTO users (username, password_hash, role, site_id) VALUES"
        " ('nurse1', 'h', 'nurse', 'old')"
    )
    db.execute(
        "INSERT INTO notifications (kind, recipient, channels, title, body) VALUES"
        " ('page', 'cg1', '{json://x}', 't', 'b')"
    )

    migrate(db, from_version=FAMILY_VERSION)

    assert db.execute("SELECT kind FROM sites WHERE site_id = 'old'").fetchone() == ("institution",)
    assert db.execute("SELECT emergency_plan, special_needs FROM residents").fetchone() == (
        None,
        [],
    )
    assert db.execute("SELECT role, resident_id FROM users").fetchone() == ("nurse", None)
    assert db.execute("SELECT count(*) FROM notifications WHERE kind = 'page'").fetchone() == (1,)
    rid = db.execute("SELECT resident_id FROM residents").fetchone()
    assert rid is not None
    db.execute(
        "INSERT INTO users (username, password_hash, role, resident_id) VALUES"
        " ('son', 'h', 'family', %s), ('fd', 'h', 'family_doctor', NULL)",
        [rid[0]],
    )
    db.execute(
        "INSERT INTO notifications (kind, recipient, channels, title, body) VALUES"
        " ('reminder', 'cg1', '{json://x}', 't', 'b')"
    )
    with pytest.raises(errors.CheckViolation):  # a family login without its resident
        db.execute("INSERT INTO users (username, password_hash, role) VALUES ('x', 'h', 'family')")
    with pytest.raises(errors.CheckViolation):
        db.execute("UPDATE sites SET kind = 'hotel'")
    with pytest.raises(errors.CheckViolation):
        db.execute("UPDATE residents SET special_needs = '{rich}'")
