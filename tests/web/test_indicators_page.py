"""The indicators page in a real browser, in Chinese: a nurse of the whole site sees the seeded
month's figures (tests/e2e/test_indicators_api.py, worked out by hand there), precision bars per
rule, no resident's name, and downloads the workbook with the API's figures."""

from __future__ import annotations

import io
import json
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from services.api.routes.web import WEB_DIR
from tests.e2e.alerting import store
from tests.e2e.test_indicators_api import MONTH, REGION, SITE, seed_month
from tests.support import login_as
from tests.web.conftest import log_in, screenshot

pytestmark = pytest.mark.services

ZH = json.loads((WEB_DIR / "i18n" / "zh.json").read_text())


def test_a_nurse_reads_the_month_in_chinese_and_downloads_it(
    db_url: str, api: TestClient, ward: str, open_page: Any
) -> None:
    seed_month(db_url)
    login_as(api, "web-ind-nurse", "nurse", site=SITE)
    page: Page = open_page(locale="zh-CN")
    path = f"/indicators?site={SITE}&from={MONTH['from']}&to={MONTH['to']}"

    log_in(page, "web-ind-nurse", path)
    expect(page.locator("h1")).to_have_text(ZH["indicators.page.heading"])
    falls = page.locator("#figure-rows tr").filter(
        has_text=ZH["indicators.residents.falls_per_1000_resident_days"]
    )
    expect(falls.locator("td")).to_have_text("16.7")  # 1000 x 1 fall / 60 resident-days
    # The figures added later: worn 480 of 720 wearable-hours; contract coverage of the one
    # resident in special difficulty, who is contracted; 30 daily rounds due, 27 missed.
    worn = page.locator("#figure-rows tr").filter(has_text=ZH["indicators.devices.worn_share"])
    expect(worn.locator("td")).to_have_text("66.7 %")
    meets = ZH["indicators.contracts.by_category.meets_target"]
    special = ZH["indicators.contract_category.special_difficulty"]
    coverage = page.locator("#figure-rows tr").filter(has_text=f"{meets} · {special}")
    expect(coverage.locator("td")).to_have_text(ZH["indicators.bool.true"])
    missed = ZH["indicators.observations.rounds.by_kind.missed"]
    rounds = ZH["indicators.visit_kind.vitals_round"]
    row = page.locator("#figure-rows tr").filter(has_text=f"{missed} · {rounds}")
    expect(row.locator("td")).to_have_text("27")
    motion = page.locator("#precision-rows tr").filter(has_text=ZH["rule.fall.motion"])
    expect(motion.locator("meter")).to_have_attribute("value", "0.5")
    expect(motion.locator("td").last).to_have_text("50.0 %")
    assert "Indicator resident" not in page.content()  # counts only: no resident named
    screenshot(page, "indicators-zh")

    with page.expect_download() as wait:
        page.get_by_role("button", name=ZH["indicators.page.xlsx"]).click()
    download = wait.value
    sheet = load_workbook(io.BytesIO(download.path().read_bytes()), read_only=True).active
    assert sheet is not None
    cells = {r[0]: r for r in sheet.iter_rows(values_only=True)}
    assert cells["residents.resident_days"][2] == 60
    assert (
        cells["residents.falls_per_1000_resident_days"][1]
        == (ZH["indicators.residents.falls_per_1000_resident_days"])
    )


def test_a_regulator_sees_its_regions_figures_in_chinese_and_no_names(
    db_url: str, api: TestClient, ward: str, open_page: Any
) -> None:
    seed_month(db_url)
    lead_hospital(db_url, "区中心医院")
    login_as(api, "web-ind-regulator", "regulator", region=REGION)
    page: Page = open_page(locale="zh-CN")
    log_in(
        page, "web-ind-regulator", f"/indicators?site={SITE}&from={MONTH['from']}&to={MONTH['to']}"
    )
    expect(page.locator("h1")).to_have_text(ZH["indicators.page.heading"])
    days = page.locator("#figure-rows tr").filter(has_text=ZH["indicators.residents.resident_days"])
    expect(days.locator("td")).to_have_text("60")
    # Only the indicators in the top bar: no board, residents or referrals to open.
    expect(page.locator("nav.nav a")).to_have_text([ZH["nav.indicators"]])
    expect(page.locator(".top")).to_contain_text(ZH["role.regulator"])
    assert "Indicator resident" not in page.content()
    screenshot(page, "indicators-regulator-zh")
    # No site given: the whole region (ind1's 60 resident-days and ind2's 30).
    page.locator("input[name=site]").fill("")
    page.get_by_role("button", name=ZH["indicators.page.show"]).click()
    expect(days.locator("td")).to_have_text("90")
    assert "region=" in page.url
    # The region's medical consortium lead hospital, by its care-team name.
    expect(page.locator("#lead-hospital")).to_have_text(
        ZH["indicators.page.lead_hospital"].format(name="区中心医院")
    )


def lead_hospital(db_url: str, name: str) -> None:
    """The region led by a hospital of the current care team (other tests' entries kept)."""
    with psycopg.connect(db_url, autocommit=True) as db:
        row = db.execute("SELECT document FROM care_team ORDER BY version DESC LIMIT 1").fetchone()
        document = dict(row[0]) if row else {}
        hospital = {"id": "ind-lead", "name": name, "sites": [SITE],
                    "channels": ["json://127.0.0.1:9/lead"]}  # fmt: skip
        others = [h for h in document.get("hospitals", []) if h["id"] != "ind-lead"]
        store(db, {**document, "hospitals": [*others, hospital]})
        db.execute(
            "UPDATE regions SET lead_hospital_id = 'ind-lead' WHERE region_id = %s", [REGION]
        )
