"""The one-time acknowledgement page on a phone (390×844), in Chinese: the page that reached
the caregiver names the bed, rule and severity (not the resident: private by default), the link
opens a page that says what and where and when in local time, acknowledging offers the next
steps, and opening the link again says who acknowledged it and when."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import Conn
from tests.web.conftest import screenshot

pytestmark = pytest.mark.services

PHONE = {"width": 390, "height": 844}


def fits_the_screen(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_ack_link_works_on_a_phone_in_chinese(
    open_page: Any,
    db: Conn,
    alert_service: Running,
    receivers: tuple[HttpReceiver, SmtpReceiver],
) -> None:
    http, smtp = receivers
    document = team(http, smtp)
    document["site_defaults"] = {}  # the product defaults: zh-CN, private
    store(db, document)
    rid = resident(db, "王秀英", room="203", bed="2")
    candidate(db, f"resident:{rid}", values={"impact_g": 3.1})
    page_to_phone = next(
        m for m in http.wait(1, timeout=30, what="the caregiver's page") if m.path == "/cg1"
    )
    assert page_to_phone.title == "【高】设备报告跌倒 — 203 房 2 床"
    lines = page_to_phone.body.splitlines()
    assert lines[-2] == "确认接手："
    path = urlsplit(lines[-1]).path
    assert re.fullmatch(r"/a/[\w.-]+", path)

    phone: Page = open_page(locale="zh-CN", **PHONE)
    phone.goto(path)
    expect(phone.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(phone.locator("h1")).to_have_text("设备报告跌倒")
    expect(phone.locator(".sev")).to_have_text("高")
    expect(phone.locator(".where")).to_contain_text("203 房 · 2 床")
    expect(phone.locator("body")).to_contain_text(re.compile(r"开始于 \d+月\d+日 \d\d:\d\d"))
    expect(phone.locator("body")).not_to_contain_text("王秀英")  # the link passed a third party
    button = phone.locator("#ack")
    expect(button).to_have_text("我来处理 — 确认接手")
    assert fits_the_screen(phone)
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300  # a thumb's target
    screenshot(phone, "ack-zh-phone")

    button.click()
    expect(phone.locator("#done")).to_have_text("已确认接手，谢谢。")
    expect(phone.locator("#resolve")).to_have_text("处理完毕并填写结果（需登录）")
    expect(phone.locator("#resolve")).to_have_attribute("href", "/board")
    expect(phone.locator("#resident")).to_have_attribute("href", f"/residents/{rid}")
    assert fits_the_screen(phone)
    screenshot(phone, "ack-zh-phone-done")

    again = open_page(locale="zh-CN", **PHONE)
    again.goto(path)
    expect(again.locator("#acked-by")).to_have_text(
        re.compile(r"^Li Na 已于 \d+月\d+日 \d\d:\d\d 确认接手。$")
    )
    expect(again.locator("body")).to_contain_text("此链接已使用过。")
    screenshot(again, "ack-zh-phone-reused")
    again.locator("#resident").click()
    again.wait_for_url(re.compile(r"/login\?next="))  # the resident page, after login


def test_a_forged_link_says_so_in_the_product_language(api: TestClient) -> None:
    response = api.get("/a/not-a-token")
    assert response.status_code == 410
    assert '<html lang="zh-CN">' in response.text and "这不是有效的确认链接。" in response.text
    posted = api.post("/a/not-a-token")
    assert posted.status_code == 410 and "这不是有效的确认链接。" in posted.text
