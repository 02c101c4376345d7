"""The resident record on the resident page, in Chinese (issue 17): identifiers whole or masked
by role, goals of care set by a physician changing what a high NEWS2 suggests (the board notes
it), and a receiving hospital's physician reading trends and alerts only while the referral is
open."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from services.records.identity import mask_national_id
from tests.e2e.alerting import Running, resident
from tests.e2e.test_family_care import alert
from tests.e2e.test_goals_of_care import raise_news2_9
from tests.e2e.test_resident_record_api import INSURANCE_NO, admit
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.services.referrals.test_store import deteriorating
from tests.support import SITE, UNIT, Conn, fresh_national_id, login_as, wait_for
from tests.web.conftest import HOSPITAL_ID, log_in, screenshot

pytestmark = pytest.mark.services


def test_a_nurse_sees_the_whole_national_id_and_a_caregiver_only_its_masked_ends(
    open_page: Any, api: TestClient, ward: str
) -> None:
    nid = fresh_national_id()
    # Re-assessment due months ago: overdue.
    overdue = {"level": "moderate", "assessed_on": "2025-03-01", "due_on": "2026-03-01"}
    rid = admit(api, national_id=nid, display_name="王秀英", ability=overdue)["resident_id"]
    login_as(api, "web-rec-nurse", "nurse", site=SITE, units=(UNIT,), staff="web-rec-nurse")
    login_as(api, "web-rec-cg", "caregiver", site=SITE, units=(UNIT,), staff="web-rec-cg")

    nurse: Page = open_page(locale="zh-CN")
    log_in(nurse, "web-rec-nurse", f"/residents/{rid}")
    card = nurse.locator("#record")
    expect(card.locator("h2")).to_have_text("档案")
    expect(card.locator("[data-field=national_id]")).to_have_text(nid)
    expect(card.locator("[data-field=insurance_no]")).to_have_text(INSURANCE_NO)
    expect(card.locator("[data-field=sex]")).to_have_text("女")
    expect(card.locator("[data-field=birth_date]")).to_contain_text("1949-12-31（")
    expect(card.locator("[data-field=birth_date]")).to_contain_text("岁）")
    expect(card.locator("[data-field=diagnoses]")).to_contain_text("I10 原发性高血压")
    expect(card.locator("[data-field=emergency_contacts]")).to_contain_text(
        "李梅（女儿）13900139000"
    )
    expect(card.locator("[data-field=allergies]")).to_have_text("青霉素")
    expect(card.locator("[data-field=medications]")).to_have_text("氨氯地平 5 mg 每日一次")
    expect(card.locator("[data-field=ability]")).to_contain_text("能力中度受损")
    expect(card.locator("[data-field=ability]")).to_contain_text("下次评估 2026-03-01")
    expect(card.locator("[data-field=ability] .overdue")).to_have_text("已逾期")
    expect(card.locator("[data-field=status]")).to_have_text("在院")
    expect(card).not_to_contain_text("已脱敏")
    screenshot(nurse, "record-card-nurse-zh")

    carer: Page = open_page(locale="zh-CN")
    log_in(carer, "web-rec-cg", f"/residents/{rid}")
    shown = carer.locator("#record [data-field=national_id]")
    expect(shown).to_have_text(f"{mask_national_id(nid)} （已脱敏）")
    expect(carer.locator("#record [data-field=insurance_no]")).to_contain_text("已脱敏")
    expect(carer.locator("#record [data-field=diagnoses]")).to_contain_text("I10")
    html = carer.content()
    # Neither number whole, nor the national ID's digits without its check character.
    for secret in (nid, nid[:17], INSURANCE_NO):
        assert secret not in html
    for page in (nurse, carer):
        assert nid not in page.title() and nid[:17] not in page.url
    # A caregiver reads goals of care but gets no form to change them.
    expect(carer.locator("#goals h2")).to_have_text("照护目标")
    expect(carer.locator("#goals-form")).to_have_count(0)


def test_comfort_care_set_on_the_page_pages_but_suggests_no_transfer(
    open_page: Any,
    db: Conn,
    api: TestClient,
    alert_service: Running,
    receivers: tuple[HttpReceiver, SmtpReceiver],
) -> None:
    login_as(api, "web-goc-doc", "physician", site=SITE, units=(UNIT,), staff="web-goc-doc")
    login_as(api, "web-goc-nurse", "nurse", site=SITE, units=(UNIT,), staff="web-goc-nurse")
    palliative = resident(db, "高敏", room="311", bed="1")
    other = resident(db, "方洁", room="311", bed="2")

    doctor: Page = open_page(locale="zh-CN")
    log_in(doctor, "web-goc-doc", f"/residents/{palliative}")
    goals = doctor.locator("#goals")
    expect(goals.locator("#goals-current")).to_contain_text("未设舒适照护")
    goals.get_by_role("button", name="设为舒适照护").click()
    expect(goals.locator("#goals-error")).to_have_text("请填写原因。")
    goals.get_by_label("原因（必填）").fill("晚期肿瘤，家属与医生商定以舒缓治疗为主")
    goals.get_by_role("button", name="设为舒适照护").click()
    expect(goals.locator("#goals-current .badge.comfort")).to_have_text("舒适照护")
    expect(goals.locator("#goals-current")).to_contain_text("晚期肿瘤，家属与医生商定")
    expect(goals.locator("#goals-history li")).to_have_count(1)
    expect(goals.locator("#goals-history li")).to_contain_text("web-goc-doc")
    expect(goals.get_by_role("button", name="取消舒适照护")).to_be_visible()
    screenshot(doctor, "record-goals-physician-zh")
    stored = api.get(f"/api/v1/residents/{palliative}/goals-of-care").json()
    assert [(c["comfort_care"], c["set_by"]) for c in stored["history"]] == [(True, "web-goc-doc")]

    http, _ = receivers
    for rid in (palliative, other):
        raise_news2_9(db, rid)
    pages = http.wait(2, timeout=30, what="both residents' pages")
    assert any("高敏" in p.title for p in pages) and any("方洁" in p.title for p in pages)
    wait_for(
        lambda: api.get("/api/v1/referrals", params={"resident": other}).json()["items"],
        until=bool,
        timeout=30,
        what="the other resident's suggested transfer",
    )
    assert api.get("/api/v1/referrals", params={"resident": palliative}).json()["items"] == []

    nurse: Page = open_page(locale="zh-CN")
    log_in(nurse, "web-goc-nurse", "/board")
    on_comfort = nurse.locator("li.alert", has_text="高敏")
    expect(on_comfort.locator(".badge.comfort")).to_have_text("舒适照护 · 不建议转院")
    expect(nurse.locator("li.alert", has_text="方洁").locator(".badge.comfort")).to_have_count(0)
    screenshot(nurse, "record-board-comfort-zh")

    nurse.goto("/referrals")
    suggested = nurse.locator("li.referral", has_text="方洁")
    expect(suggested.locator(".badge.state")).to_have_text("系统建议")
    expect(nurse.locator("li.referral", has_text="高敏")).to_have_count(0)


def test_the_receiving_physician_reads_trends_and_alerts_only_while_the_referral_is_open(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running
) -> None:
    nurse = login_as(api, "web-acc-nurse", "nurse", site=SITE, units=(UNIT,), staff="web-acc-n")
    doctor = login_as(api, "web-acc-doc", "physician", hospital=HOSPITAL_ID, staff="web-acc-d")
    rid = resident(db, "许桂芳", room="312", bed="1")
    deteriorating(db, rid, datetime.now(UTC))
    alert(db, rid, SITE, UNIT, 982_000_001, None)
    db.commit()
    sent = api.post(
        "/api/v1/referrals", json={"resident_id": rid, "reason": "胸痛待查"}, headers=nurse
    )
    assert sent.status_code == 201, sent.text
    referral_id = sent.json()["id"]
    path = f"/residents/{rid}?referral={referral_id}"

    page: Page = open_page(locale="zh-CN")
    log_in(page, "web-acc-doc", "/referrals")
    # From the referral's card: the resident's page, read through the referral.
    theirs = page.locator(f"li.referral[data-referral-id='{referral_id}']")
    theirs.get_by_role("link", name="查看趋势与警报（转诊期间）").click()
    page.wait_for_url(re.compile(re.escape(path) + "$"))
    expect(page.locator("#profile h1")).to_have_text("许桂芳")
    expect(page.locator("#referral-view")).to_contain_text(f"转诊 #{referral_id}")
    expect(page.locator("#alert-history li[data-alert-id='982000001']")).to_be_visible()
    expect(page.locator("#chart svg")).to_have_count(1)
    expect(page.locator("#chart")).not_to_contain_text("您无权查看此内容")
    # The referral opens trends and alerts only: no record, no observations form.
    expect(page.locator("#record-grid")).to_be_hidden()
    expect(page.locator("#observe-card")).to_be_hidden()
    screenshot(page, "record-referral-read-zh")

    declined = api.post(
        f"/api/v1/referrals/{referral_id}/transition",
        json={"to": "declined", "note": "无床位"},
        headers=doctor,
    )
    assert declined.status_code == 200, declined.text
    page.reload()
    expect(page.locator("#profile h1")).to_have_text("您无权查看此内容。")
    page.goto("/referrals")
    page.get_by_label("显示已结束").check()
    expect(theirs).to_have_attribute("data-state", "declined")
    expect(theirs.get_by_role("link", name="查看趋势与警报（转诊期间）")).to_have_count(0)
    page.goto(path)
    expect(page.locator("#profile h1")).to_have_text("您无权查看此内容。")
    expect(page.locator("main")).not_to_contain_text("许桂芳")
    expect(page.locator("#alert-history")).to_have_count(0)
    refused = api.get(
        f"/api/v1/referrals/{referral_id}/vitals", params={"metric": "hr"}, headers=doctor
    )
    assert refused.status_code == 403
    assert re.search("declined", refused.text)
