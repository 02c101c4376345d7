"""The resident page draws the SpO2 alarm limit the detector applies: scale 2's only for a
resident on NEWS2 scale 2, never for a "copd" condition alone (rules/vitals.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.e2e.alerting import resident
from tests.support import SITE, UNIT, Conn, login_as
from tests.web.conftest import log_in
from tests.web.test_resident_page import an_hour_of_vitals

pytestmark = pytest.mark.services

NURSE = "web-spo2-nurse"


@pytest.mark.parametrize(("scale", "limit"), [(1, 90), (2, 85)])
def test_the_spo2_limit_follows_the_news2_scale_not_a_copd_tag(
    open_page: Any, db: Conn, api: TestClient, ward: str, scale: int, limit: int
) -> None:
    login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="web-spo2")
    rid = resident(db, f"COPD scale {scale}")
    db.execute(
        "UPDATE residents SET conditions = '{copd}', news2_scale = %s WHERE resident_id = %s",
        [scale, rid],
    )
    db.commit()
    an_hour_of_vitals(db, rid)
    page = open_page()
    log_in(page, NURSE, f"/residents/{rid}?range=1h&metric=spo2")
    chart = page.locator("#chart svg")
    expect(page.locator("#chart")).to_have_attribute("data-metric", "spo2")
    expect(chart.locator("g.threshold")).to_have_count(1)
    drawn = chart.locator("g.threshold").evaluate_all("gs => gs.map(g => Number(g.dataset.value))")
    assert drawn == [limit]
