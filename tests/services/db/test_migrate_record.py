"""Migration 0020 (the resident record) on a database holding residents admitted before it:
they stay as they were, with the new fields unknown or empty, and can be given a record."""

from __future__ import annotations

import pytest
from psycopg import errors

from tests.services.db.conftest import migrate
from tests.support import Conn

pytestmark = pytest.mark.services

RECORD_VERSION = 20


def test_existing_residents_are_carried_forward(scratch_db: Conn) -> None:
    migrate(scratch_db, below=RECORD_VERSION)
    scratch_db.execute("INSERT INTO sites (site_id, name) VALUES ('old', 'Old site')")
    scratch_db.execute("INSERT INTO units (site_id, unit_id, name) VALUES ('old', 'u1', 'U')")
    scratch_db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, room, conditions, fall_risk)"
        " VALUES ('old', 'u1', '王秀英', '101', '{copd}', true), ('old', 'u1', '赵兰', NULL,"
        " '{}', false)"
    )
    before = scratch_db.execute(
        "SELECT resident_id, display_name, room, conditions, fall_risk FROM residents"
        " ORDER BY resident_id"
    ).fetchall()

    migrate(scratch_db, from_version=RECORD_VERSION)

    after = scratch_db.execute(
        "SELECT resident_id, display_name, room, conditions, fall_risk, sex, birth_date,"
        " national_id_enc, emergency_contacts, diagnoses, allergies, ability_level"
        " FROM residents ORDER BY resident_id"
    ).fetchall()
    assert [row[:5] for row in after] == before
    assert [row[5:] for row in after] == [(None, None, None, [], [], [], None)] * 2
    # The old rows take a record; a half or backwards assessment is refused by the schema too.
    first = before[0][0]
    scratch_db.execute(
        "UPDATE residents SET sex = 'female', ability_level = 'mild',"
        " ability_assessed_on = '2026-01-01', ability_due_on = '2027-01-01'"
        " WHERE resident_id = %s",
        [first],
    )
    for statement in (
        "UPDATE residents SET ability_due_on = '2025-01-01' WHERE resident_id = %s",
        "UPDATE residents SET ability_assessed_on = NULL WHERE resident_id = %s",
        "UPDATE residents SET sex = 'F' WHERE resident_id = %s",
    ):
        with pytest.raises(errors.CheckViolation):
            scratch_db.execute(statement.encode(), [first])
