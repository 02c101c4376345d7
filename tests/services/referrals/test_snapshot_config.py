"""The referral snapshot scores NEWS2 with the resident's effective configuration (the one
loader the detector and the API use), reading back as far as its freshness settings reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from services.referrals import snapshot
from services.referrals.model import ReferralConfig
from tests.support import Conn

pytestmark = pytest.mark.services

SITE, UNIT = "ref-cfg-site", "ref-cfg-unit"
SITE_OVERRIDES = {"news2": {"max_age_s": {"hr": 30}, "raise_after_s": {"medium": 10}}}
CLASHING = {"news2": {"raise_after_s": {"high": 20}}}  # fails only over the site's


LONG_ROUNDS = dict.fromkeys(("zero", "low", "low_medium", "medium", "high"), 30 * 3600)


@pytest.fixture
async def aconn(db_url: str, db: Conn) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    db.execute(
        "INSERT INTO sites (site_id, name, rule_overrides) VALUES (%s, %s, %s)"
        " ON CONFLICT (site_id) DO UPDATE SET rule_overrides = excluded.rule_overrides",
        [SITE, SITE, Jsonb(SITE_OVERRIDES)],
    )
    db.execute("INSERT INTO units VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", [SITE, UNIT, UNIT])
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        yield conn


def resident(db: Conn, overrides: dict[str, Any]) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, rule_overrides)"
        " VALUES (%s, %s, 'Snapshot', %s) RETURNING resident_id",
        [SITE, UNIT, Jsonb(overrides)],
    ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_legacy_bad_override_keeps_the_sites_in_the_snapshot(
    aconn: psycopg.AsyncConnection[Any], db: Conn
) -> None:
    subject = await snapshot.load_subject(aconn, resident(db, CLASHING))
    assert subject.news2.max_age_s.hr == 30  # the site's, not the defaults
    assert subject.news2.raise_after_s.medium == 10


async def test_the_snapshot_reads_back_as_far_as_the_freshness_settings_reach(
    aconn: psycopg.AsyncConnection[Any], db: Conn
) -> None:
    rid = resident(db, {"news2": {"max_age_s": {"sbp": 30 * 3600}, "observe_every_s": LONG_ROUNDS}})
    now = datetime.now(UTC)
    db.execute(
        "INSERT INTO readings (ts, device_id, resident_id, metric, value, source, received_at)"
        " VALUES (%s, %s, %s, 'sbp', 85, 'manual', %s)",
        [now - timedelta(hours=26), f"manual-{rid}", rid, now],
    )
    subject = await snapshot.load_subject(aconn, rid)
    _, news2, _ = await snapshot.snapshot(aconn, subject, now, ReferralConfig())
    assert news2 is not None and "sbp" not in news2.missing
    assert {s.parameter: s.score for s in news2.sub_scores}["sbp"] == 3
