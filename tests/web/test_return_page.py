"""A hospital-opened return in a real browser, in Chinese (issue 17): the partner hospital's
physician sends a resident back with a discharge summary from the referrals page, and the
care side's board shows the post-discharge watch period it started."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.alerting import Running, resident
from tests.support import SITE, UNIT, Conn, login_as
from tests.web.conftest import HOSPITAL_ID, log_in, screenshot

pytestmark = pytest.mark.services

NURSE = "web-ret-nurse"
DOCTOR = "web-ret-doc"


def test_a_hospital_return_starts_a_watch_shown_on_the_board(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running
) -> None:
    nurse = login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff=NURSE)
    login_as(api, DOCTOR, "physician", hospital=HOSPITAL_ID, staff=DOCTOR)
    rid = resident(db, "周玉兰", room="307", bed="1")
    sent = api.post(
        "/api/v1/referrals", json={"resident_id": rid, "reason": "胸痛待查"}, headers=nurse
    )
    assert sent.status_code == 201, sent.text

    hospital: Page = open_page(locale="zh-CN")
    log_in(hospital, DOCTOR, "/referrals")
    hospital.locator(".start-referral summary").click()
    form = hospital.locator("#return-referral")
    form.get_by_role("button", name="发送下转").click()
    expect(form).to_contain_text("请选择要转诊的长者。")
    form.get_by_label("长者").select_option(str(rid))
    form.get_by_label("出院诊断").fill("I63.9 脑梗死\nI10 高血压")
    row = form.locator(".medication-row").first
    row.locator("select").select_option("start")
    row.locator("[name=medication]").fill("阿司匹林 100 mg")
    row.locator("[name=detail]").fill("每日一次")
    form.get_by_label("随访计划").fill("两周后神经内科复诊；每日测血压两次")
    screenshot(hospital, "return-hospital")
    form.get_by_role("button", name="发送下转").click()
    expect(hospital.locator("#notice")).to_contain_text("机构已开始出院观察期")
    hospital.get_by_label("显示已结束").check()
    card = hospital.locator("li.referral[data-state='returned']", has_text="I63.9")
    expect(card.locator(".badge.kind")).to_have_text("下转返回")
    expect(card.locator(".discharge")).to_contain_text("新增 · 阿司匹林 100 mg · 每日一次")
    stored = api.get("/api/v1/referrals", params={"resident": rid}).json()["items"]
    assert {(r["kind"], r["state"]) for r in stored} == {
        ("return", "returned"),
        ("emergency", "requested"),
    }

    board: Page = open_page(locale="zh-CN")
    log_in(board, NURSE, "/board")
    watch = board.locator(f"#watches li[data-resident-id='{rid}']")
    expect(watch).to_contain_text("周玉兰")
    expect(watch.locator(".badge.watch")).to_contain_text("出院观察期 · 至")
    screenshot(board, "return-board-watch")
