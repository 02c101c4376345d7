"""The detector reads each resident's effective configuration through the one loader
(services/resident_rules.py) from the real database: a legacy resident override that fails
merged over the site's keeps the site's overrides, not the bare defaults."""

from __future__ import annotations

import pytest
from psycopg.types.json import Jsonb

from services.detector.residents import load_resident, load_residents
from tests.support import Conn

pytestmark = pytest.mark.services

SITE, UNIT = "det-cfg-site", "det-cfg-unit"
SITE_OVERRIDES = {"news2": {"max_age_s": {"hr": 30}, "raise_after_s": {"medium": 10}}}
CLASHING = {"news2": {"raise_after_s": {"high": 20}}}  # fails only over the site's


def test_a_legacy_bad_override_keeps_the_sites_overrides(db: Conn) -> None:
    db.execute(
        "INSERT INTO sites (site_id, name, rule_overrides) VALUES (%s, %s, %s)"
        " ON CONFLICT (site_id) DO UPDATE SET rule_overrides = excluded.rule_overrides",
        [SITE, SITE, Jsonb(SITE_OVERRIDES)],
    )
    db.execute("INSERT INTO units VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", [SITE, UNIT, UNIT])
    ids = []
    for overrides in (CLASHING, {"news2": {"max_age_s": {"sbp": 3600}}}):
        row = db.execute(
            "INSERT INTO residents (site_id, unit_id, display_name, rule_overrides)"
            " VALUES (%s, %s, 'Detected', %s) RETURNING resident_id",
            [SITE, UNIT, Jsonb(overrides)],
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    bad, good = ids
    record = load_resident(db, bad)
    assert record is not None
    assert record.config.news2.max_age_s.hr == 30  # the site's, kept
    assert record.config.news2.raise_after_s.medium == 10
    assert record.config.news2.raise_after_s.high == 0  # the resident's, ignored
    everyone = load_residents(db, frozenset({SITE}))
    other = everyone[good]
    assert other is not None and other.config.news2.max_age_s.sbp == 3600
    assert other.config.news2.max_age_s.hr == 30
