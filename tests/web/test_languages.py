"""Chinese and English in a real browser: the default follows the browser's language, the
switch changes every label at once (no reload) and is remembered."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.alerting import Running, candidate, resident
from tests.support import SITE, UNIT, Conn, login_as
from tests.web.conftest import screenshot

pytestmark = pytest.mark.services

NURSE = "web-lang-nurse"


def test_a_chinese_browser_gets_chinese_and_the_switch_changes_every_label(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running
) -> None:
    login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="cg1")
    rid = resident(db, "王秀英", room="203", bed="2")
    candidate(
        db, f"resident:{rid}", rule_id="vital.spo2.low", severity="critical", values={"value": 84}
    )

    page: Page = open_page(locale="zh-CN")
    page.goto("/board")
    page.wait_for_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("label[for='username']")).to_have_text("用户名")
    expect(page.locator("#login-submit")).to_have_text("登录")
    screenshot(page, "login-zh")
    page.locator("#username").fill(NURSE)
    page.locator("#password").fill("wrong password")
    page.locator("#login-submit").click()
    expect(page.locator("#login-error")).to_contain_text("用户名或密码错误")
    page.locator("#password").fill("correct horse battery staple")
    page.locator("#login-submit").click()
    page.wait_for_url(re.compile(r"/board$"))

    card = page.locator("li.alert", has_text="王秀英")
    expect(card.locator(".badge.severity")).to_have_text("危急")
    expect(card.locator(".alert-title")).to_have_text("血氧饱和度低")
    expect(card).to_contain_text("当前 84")
    expect(card.get_by_role("button", name="确认接手")).to_be_visible()
    expect(page.locator("nav a[href='/board']")).to_have_text("警报看板")
    expect(page.locator("#alerts-heading")).to_contain_text("未处理警报")
    expect(page.locator("#live")).to_have_text("实时")
    screenshot(page, "board-zh")

    page.evaluate("window.sameDocument = true")
    page.locator("#language").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en-GB")
    expect(card.locator(".badge.severity")).to_have_text("Critical")
    expect(card.locator(".alert-title")).to_have_text("Low oxygen saturation")
    expect(page.locator("nav a[href='/board']")).to_have_text("Alert board")
    expect(page.locator("#on-duty")).to_contain_text("Caregiver")
    assert page.evaluate("window.sameDocument") is True

    # Chosen once, kept: a reload (and any page of the same browser) opens in English.
    page.reload()
    expect(page.locator("#alerts-heading")).to_contain_text("Open alerts")
    page.locator("#language").select_option("zh")
    expect(page.locator("#alerts-heading")).to_contain_text("未处理警报")
