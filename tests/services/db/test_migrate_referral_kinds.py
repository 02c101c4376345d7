"""Migration 0023 (referral kinds, returns, watch periods) on a database holding referrals made
before it: each was a green-channel emergency transfer to a general hospital, and stays one."""

from __future__ import annotations

import pytest
from psycopg import errors
from psycopg.types.json import Jsonb

from tests.services.db.conftest import migrate
from tests.support import Conn

pytestmark = pytest.mark.services

KINDS_VERSION = 23


def test_existing_referrals_are_carried_forward_as_emergency_transfers(scratch_db: Conn) -> None:
    migrate(scratch_db, below=KINDS_VERSION)
    scratch_db.execute("INSERT INTO sites (site_id, name) VALUES ('old', 'Old site')")
    scratch_db.execute("INSERT INTO units (site_id, unit_id, name) VALUES ('old', 'u1', 'U')")
    row = scratch_db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES ('old', 'u1', '王秀英')"
        " RETURNING resident_id"
    ).fetchone()
    assert row is not None
    scratch_db.execute(
        "INSERT INTO referrals (resident_id, site_id, unit_id, hospital_id, hospital_name, state,"
        " trigger, reason, patient, created_at, updated_at) VALUES (%s, 'old', 'u1', 'h1',"
        " 'City Hospital', 'admitted', 'news2', 'NEWS2 8', %s, now(), now())",
        [row[0], Jsonb({"name": "王秀英"})],
    )

    migrate(scratch_db, from_version=KINDS_VERSION)

    after = scratch_db.execute(
        "SELECT hospital_id, state, kind, partner_kind, discharge FROM referrals"
    ).fetchall()
    assert after == [("h1", "admitted", "emergency", "general_hospital", None)]
    with pytest.raises(errors.CheckViolation):
        scratch_db.execute("UPDATE referrals SET kind = 'taxi'")
    with pytest.raises(errors.CheckViolation):
        scratch_db.execute("UPDATE referrals SET partner_kind = 'spa'")
    # The hospital side opens returns.
    scratch_db.execute("UPDATE referrals SET trigger = 'hospital'")
    assert scratch_db.execute("SELECT count(*) FROM watch_periods").fetchone() == (0,)
