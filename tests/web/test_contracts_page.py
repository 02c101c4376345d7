"""The contracts page in a real browser, in Chinese: a site's coverage of each special-needs
category against the 80 % target (figure and numbers), the API's refusals of the signing form
in Chinese, and one more contract signed through the form moving the figure."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from services.api.routes.web import WEB_DIR
from tests.e2e.test_family_care import admit, contract, local_today, place
from tests.support import Conn, login_as
from tests.web.conftest import log_in, no_sideways_scroll, screenshot

pytestmark = pytest.mark.services

ZH = json.loads((WEB_DIR / "i18n" / "zh.json").read_text())
SITE = "web-cov"
BAR = 330  # the figure's full bar (js/coverage_figure.js)


def seed(db: Conn, api: TestClient) -> tuple[int, int]:
    """disabled 4 of 5 (80 %, met), 80+ 2 of 3 (66.7 %), special difficulty 1 of 2 (50 %);
    returns the 80+ resident without a contract and a disabled one contracted a month ago."""
    place(db, SITE, kind="community_station")
    login_as(api, "web-cov-doc", "family_doctor")
    today = local_today()
    left = early = 0
    for category, total, signed in (
        ("disabled", 5, 4),
        ("aged_80_plus", 3, 2),
        ("special_difficulty", 2, 1),
    ):
        for n in range(total):
            rid = admit(db, f"覆盖{category}{n}", SITE, "h1", special_needs=[category])
            if n < signed:
                start = today - timedelta(days=30) if n == 0 else today
                contract(api, rid, "web-cov-doc", start=start, end=today + timedelta(days=365))
                early = early or rid
            elif category == "aged_80_plus":
                left = rid
    return left, early


def expect_row(page: Page, category: str, rate: str, verdict: str) -> None:
    row = page.locator(f"#coverage-rows tr[data-category='{category}']")
    expect(row.locator("th")).to_have_text(ZH[f"contracts.category.{category}"])
    expect(row.locator("td.rate")).to_have_text(rate)
    expect(row.locator("td.verdict")).to_have_text(ZH[f"contracts.{verdict}"])


def bar(page: Page, category: str) -> Any:
    return page.locator(f"#coverage-figure g[data-category='{category}'] rect.coverage-bar")


def test_the_coverage_figure_shows_the_rates_and_a_signed_contract_moves_it(
    open_page: Any, db: Conn, api: TestClient, ward: str
) -> None:
    unsigned, early = seed(db, api)
    login_as(api, "web-cov-nurse", "nurse", site=SITE)

    page: Page = open_page(locale="zh-CN")
    log_in(page, "web-cov-nurse", "/contracts")
    expect(page.locator("#contracts-page[data-loaded='true'] h1")).to_have_text(
        ZH["contracts.heading"]
    )
    expect(page.locator("nav.nav a[aria-current='page']")).to_have_text(ZH["nav.contracts"])
    expect_row(page, "disabled", "80.0 %", "meets")
    expect_row(page, "aged_80_plus", "66.7 %", "below")
    expect_row(page, "special_difficulty", "50.0 %", "below")
    row = page.locator("#coverage-rows tr[data-category='disabled'] td")
    expect(row.nth(0)).to_have_text("5")
    expect(row.nth(1)).to_have_text("4")
    # The figure: bars as long as the rates, coloured by the target, the rate beside each.
    expect(bar(page, "disabled")).to_have_attribute("width", "264")  # 0.8 x 330
    expect(bar(page, "aged_80_plus")).to_have_attribute("width", "220")
    expect(page.locator("#coverage-figure g.meets")).to_have_count(1)
    expect(page.locator("#coverage-figure g.below")).to_have_count(2)
    expect(page.locator("#coverage-figure g[data-category='special_difficulty']")).to_contain_text(
        "50.0 %"
    )
    expect(page.locator("#contract-rows li.contract")).to_have_count(7)
    screenshot(page, "contracts-zh")

    form = page.locator("#sign-form")
    form.locator("select[name=resident_id]").select_option(str(unsigned))
    form.locator("input[name=team]").fill("幸福社区家庭医生团队")
    form.locator("input[name=doctor]").fill("web-cov-nurse")  # not a family doctor
    today = local_today()
    form.locator("input[name=start_on]").fill(today.isoformat())
    form.locator("input[name=end_on]").fill((today + timedelta(days=365)).isoformat())
    form.locator("input[name=service_package]").fill("基础包")
    form.locator("select[name=category]").select_option("aged_80_plus")
    form.get_by_role("button", name=ZH["contracts.sign"]).click()
    expect(page.locator("#sign-errors")).to_have_text(
        f"{ZH['contracts.field.doctor']}：{ZH['programme.error.not_family_doctor']}"
    )
    form.locator("input[name=doctor]").fill("web-cov-doc")
    form.locator("input[name=end_on]").fill((today - timedelta(days=1)).isoformat())
    form.get_by_role("button", name=ZH["contracts.sign"]).click()
    expect(page.locator("#sign-errors")).to_have_text(ZH["programme.error.end_before_start"])
    expect_row(page, "aged_80_plus", "66.7 %", "below")  # nothing was signed

    form.locator("input[name=end_on]").fill((today + timedelta(days=365)).isoformat())
    form.get_by_role("button", name=ZH["contracts.sign"]).click()
    expect(page.locator("#sign-errors")).to_have_text("")
    expect_row(page, "aged_80_plus", "100.0 %", "meets")
    expect(bar(page, "aged_80_plus")).to_have_attribute("width", str(BAR))
    expect(page.locator("#coverage-figure g.meets")).to_have_count(2)
    expect(page.locator(f"#contract-rows li[data-resident='{unsigned}']")).to_contain_text(
        "幸福社区家庭医生团队"
    )
    assert api.get(f"/api/v1/sites/{SITE}/contract-coverage").json()["items"][1] == {
        "category": "aged_80_plus",
        "residents": 3,
        "contracted": 3,
        "rate": 1.0,
        "target": 0.8,
        "meets_target": True,
    }

    # Ending one (the day before today): it no longer counts, and the figure drops.
    ending = page.locator(f"#contract-rows li[data-resident='{early}'] form.end-contract")
    ending.locator("input[name=end_on]").fill((today - timedelta(days=1)).isoformat())
    ending.get_by_role("button", name=ZH["contracts.end"]).click()
    expect_row(page, "disabled", "60.0 %", "below")
    expect(bar(page, "disabled")).to_have_attribute("width", "198")  # 0.6 x 330

    # On a phone: the figure shrinks with the page, nothing scrolls sideways.
    phone: Page = open_page(locale="zh-CN", width=390, height=844)
    log_in(phone, "web-cov-nurse", "/contracts")
    expect(phone.locator("#contracts-page[data-loaded='true'] #coverage-rows tr")).to_have_count(3)
    no_sideways_scroll(phone)
