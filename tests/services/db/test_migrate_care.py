"""Migration 0022 (goals of care, status, consents) on a database holding residents admitted
before it: they stay as they were, admitted, on no comfort care, with no consent on record
(not given), and their devices stay theirs."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.services.db.conftest import migrate
from tests.support import Conn

pytestmark = pytest.mark.services

CARE_VERSION = 22


def test_existing_residents_are_carried_forward_admitted(scratch_db: Conn) -> None:
    migrate(scratch_db, below=CARE_VERSION)
    scratch_db.execute("INSERT INTO sites (site_id, name) VALUES ('old', 'Old site')")
    scratch_db.execute("INSERT INTO units (site_id, unit_id, name) VALUES ('old', 'u1', 'U')")
    scratch_db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES ('old', 'u1', '王秀英')"
    )
    before = scratch_db.execute("SELECT resident_id, display_name FROM residents").fetchall()

    migrate(scratch_db, from_version=CARE_VERSION)

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
