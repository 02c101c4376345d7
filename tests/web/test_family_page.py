"""The family view in a real browser, in Chinese: a family login lands on its resident's
latest readings and alerts with how they ended; without the family consent it sees only that
the view is not available."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.test_family_care import (
    admit,
    alert,
    consent,
    contract,
    local_today,
    place,
    reading,
)
from tests.support import PASSWORD, Conn, login_as
from tests.web.conftest import log_in, screenshot

pytestmark = pytest.mark.services


def test_a_family_login_sees_its_resident_in_chinese_and_nothing_without_consent(
    open_page: Any, db: Conn, api: TestClient, ward: str
) -> None:
    place(db, "web-fam")
    rid = admit(db, "赵敏", "web-fam", "h1")
    consent(db, rid, True)
    reading(db, rid, "hr", 76)
    reading(db, rid, "spo2", 96)
    alert(db, rid, "web-fam", "h1", 940_001, "false_alarm")
    login_as(api, "web-fam-son", "family", resident=rid)

    page: Page = open_page(locale="zh-CN")
    log_in(page, "web-fam-son", "/family")
    view = page.locator("#family-page[data-loaded='true']")
    expect(view.locator("h1")).to_have_text("赵敏")
    expect(page.locator("#family-vitals")).to_contain_text("心率")
    expect(page.locator("#family-vitals")).to_contain_text("76")
    item = page.locator("li.family-alert[data-alert='940001']")
    expect(item).to_contain_text("误报")  # the outcome, in Chinese
    expect(page.locator("#family-refused")).to_be_hidden()
    # Only the family view in the navigation: no board, no residents, no referrals.
    expect(page.locator("nav.nav a")).to_have_text(["家属查看"])
    screenshot(page, "family-zh")

    consent(db, rid, False)
    page.reload()
    expect(page.locator("#family-refused")).to_be_visible()
    expect(page.locator("#family-refused")).to_contain_text("尚未同意")
    expect(page.locator("#family-view")).to_be_hidden()
    expect(page.locator("body")).not_to_contain_text("赵敏")


def test_a_family_bed_residents_page_shows_the_home_the_plan_and_the_120_guidance(
    open_page: Any, db: Conn, api: TestClient, ward: str
) -> None:
    place(db, "web-home")
    at_home = admit(db, "钱芳", "web-home", "h1", address="幸福路 8 号 2 单元 301")
    put = api.put(
        f"/api/v1/residents/{at_home}/home-care",
        json={"emergency_plan": "先拨 120，再通知女儿（钥匙在门卫室）"},
    )
    assert put.status_code == 200, put.text
    place(db, "web-inst", kind="institution")
    in_ward = admit(db, "孙立", "web-inst", "h1")
    login_as(api, "web-home-nurse", "nurse", site="web-home")
    login_as(api, "web-inst-nurse", "nurse", site="web-inst")

    page: Page = open_page(locale="zh-CN")
    log_in(page, "web-home-nurse", f"/residents/{at_home}")
    home = page.locator("#home-care")
    expect(home).to_contain_text("家庭住址：幸福路 8 号 2 单元 301")
    expect(home).to_contain_text("应急预案：先拨 120，再通知女儿（钥匙在门卫室）")
    expect(home).to_contain_text("如有生命危险请立即拨打 120")
    screenshot(page, "resident-home-zh")

    other: Page = open_page(locale="zh-CN")
    log_in(other, "web-inst-nurse", f"/residents/{in_ward}")
    expect(other.locator("#profile")).to_contain_text("孙立")
    expect(other.locator("#home-care")).to_be_hidden()


def test_a_family_doctor_lands_on_the_caseload_across_sites(
    open_page: Any, db: Conn, api: TestClient, ward: str
) -> None:
    place(db, "web-fd-a")
    place(db, "web-fd-b", kind="community_station")
    first = admit(db, "吴刚", "web-fd-a", "h1")
    second = admit(db, "郑红", "web-fd-b", "h1")
    login_as(api, "web-fd", "family_doctor")
    today = local_today()
    for rid in (first, second):
        contract(api, rid, "web-fd", start=today, end=today + timedelta(days=30))

    page: Page = open_page(locale="zh-CN")
    page.goto("/board")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.locator("#username").fill("web-fd")
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-submit").click()
    page.wait_for_url(re.compile(r"/caseload"))
    listed = page.locator("#caseload-page[data-loaded='true'] li")
    expect(listed).to_have_count(2)
    expect(page.locator(f"li[data-resident='{second}']")).to_contain_text("社区服务站")
    expect(page.locator("nav.nav a")).to_have_text(["签约居民"])
    page.locator(f"li[data-resident='{first}'] a").click()
    page.wait_for_url(re.compile(rf"/residents/{first}$"))
    expect(page.locator("#profile")).to_contain_text("吴刚")
