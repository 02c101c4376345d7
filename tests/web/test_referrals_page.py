"""The referrals page in a real browser: an open referral is listed with its state, moves on
with one click, and a step that needs a reason asks for one."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.alerting import Running, candidate, resident
from tests.services.referrals.test_store import deteriorating
from tests.support import SITE, UNIT, Conn, login_as, wait_for
from tests.web.conftest import HOSPITAL_ID, log_in, screenshot

pytestmark = pytest.mark.services

NURSE = "web-ref-nurse"


def test_a_referral_is_listed_and_moves_through_the_green_channel(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running
) -> None:
    nurse = login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="web-ref-nurse")
    doctor = login_as(api, "web-ref-doc", "physician", hospital=HOSPITAL_ID, staff="web-ref-doc")
    rid = resident(db, "Sun Hua", room="210", bed="1")
    created = api.post(
        "/api/v1/referrals",
        json={"resident_id": rid, "reason": "NEWS2 8 on the evening round"},
        headers=nurse,
    )
    assert created.status_code == 201, created.text
    referral_id = created.json()["id"]
    accepted = api.post(
        f"/api/v1/referrals/{referral_id}/transition",
        json={"to": "accepted", "note": "bed 12, cardiology"},
        headers=doctor,
    )
    assert accepted.status_code == 200, accepted.text

    page: Page = open_page()
    log_in(page, NURSE, "/referrals")
    card = page.locator(f"li.referral[data-referral-id='{referral_id}']")
    expect(card).to_contain_text("NEWS2 8 on the evening round")
    expect(card).to_contain_text("Sun Hua")
    expect(card).to_contain_text("Partner Hospital")
    expect(card).to_have_attribute("data-state", "accepted")
    expect(card.locator(".badge.state")).to_have_text("Accepted")
    # One button per step the workflow allows from here.
    expect(card.locator("button.transition")).to_have_text(["On the way", "Cancel referral"])
    screenshot(page, "referrals")

    card.get_by_role("button", name="On the way").click()
    expect(card).to_have_attribute("data-state", "in_transit")
    expect(card).to_contain_text("Now: In transit")
    assert api.get(f"/api/v1/referrals/{referral_id}").json()["state"] == "in_transit"

    # Cancelling needs a reason: asked for, refused without one, then done.
    card.get_by_role("button", name="Cancel referral").click()
    card.get_by_role("button", name="Cancel referral").click()
    expect(card).to_contain_text("Say why (required).")
    card.locator("textarea").fill("family chose to stay")
    card.get_by_role("button", name="Cancel referral").click()
    expect(card).to_have_count(0)  # closed referrals are hidden by default
    page.get_by_label("Show closed").check()
    expect(card).to_have_attribute("data-state", "cancelled")
    stored = api.get(f"/api/v1/referrals/{referral_id}").json()
    assert stored["state"] == "cancelled"
    assert stored["history"][-1]["note"] == "family chose to stay"


# --- in Chinese, at phone size and desktop: each side's own steps, reasons in words ------------

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SIZES = {"phone": PHONE, "desktop": DESKTOP}
ISO_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
HOME_NURSE = "web-ref-hn"
HOSPITAL_DOC = "web-ref-hd"


def _side_logins(api: TestClient) -> None:
    login_as(api, HOME_NURSE, "nurse", site=SITE, units=(UNIT,), staff=HOME_NURSE)
    login_as(api, HOSPITAL_DOC, "physician", hospital=HOSPITAL_ID, staff=HOSPITAL_DOC)


def _suggested_after_a_fall(db: Conn, api: TestClient, name: str) -> int:
    """A resident with 24 h of vitals falls; the alert service suggests a referral."""
    rid = resident(db, name, room="305", bed="1")
    deteriorating(db, rid, datetime.now(UTC))
    candidate(db, f"resident:{rid}", values={"peak_g": 3.1}, suggestion="referral")
    found = wait_for(
        lambda: api.get("/api/v1/referrals", params={"resident": rid}).json()["items"],
        until=bool,
        timeout=30,
        what="a referral suggested from the fall",
    )
    assert found[0]["state"] == "suggested", found
    return int(found[0]["id"])


def _no_raw_values(page: Page) -> None:
    text = page.locator("main").inner_text()
    assert "peak_g" not in text and not ISO_INSTANT.search(text), text


@pytest.mark.parametrize("size", list(SIZES))
def test_each_side_sees_only_its_own_steps_in_chinese(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running, size: str
) -> None:
    _side_logins(api)
    referral_id = _suggested_after_a_fall(db, api, f"赵桂兰{size}")

    home: Page = open_page(locale="zh-CN", **SIZES[size])
    log_in(home, HOME_NURSE, "/referrals")
    card = home.locator(f"li.referral[data-referral-id='{referral_id}']")
    expect(card.locator(".badge.state")).to_have_text("系统建议")
    # The reason in the catalogue's words, the value with its unit, no raw key or ISO time.
    expect(card.locator(".reason")).to_contain_text("触发：设备报告跌倒（高）")
    expect(card.locator(".reason-values")).to_have_text("冲击 3.1 g")
    expect(card.locator(".reason-news2")).to_contain_text("NEWS2 8（高风险）")
    expect(card.locator(".reason-news2")).to_contain_text("血氧饱和度 91 %（3）")
    expect(card.locator("button.transition")).to_have_text(["确认转诊", "驳回"])
    card.get_by_role("button", name="确认转诊").click()
    expect(card).to_have_attribute("data-state", "requested")
    # Requested: the hospital answers; the home may only withdraw.
    expect(card.locator("button.transition")).to_have_text(["取消转诊"])

    # The vitals snapshot: last value with unit, and the FHIR file.
    card.locator(".referral-carried summary").click()
    hr = card.locator(".snapshot tr[data-metric='hr']")
    expect(hr).to_contain_text("心率")
    expect(hr).to_contain_text("115 次/分")
    expect(hr.locator("svg.spark path")).to_have_count(1)
    _no_raw_values(home)
    screenshot(home, f"referrals-home-{size}")
    with home.expect_download() as download:
        card.get_by_role("button", name="下载 FHIR 文件").click()
    saved = download.value
    assert saved.suggested_filename == f"referral-{referral_id}.fhir.json"
    bundle = json.loads(Path(saved.path()).read_text())
    assert bundle["resourceType"] == "Bundle"
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} >= {"Patient", "Task"}

    hospital: Page = open_page(locale="zh-CN", **SIZES[size])
    log_in(hospital, HOSPITAL_DOC, "/referrals")
    theirs = hospital.locator(f"li.referral[data-referral-id='{referral_id}']")
    # No resident page for the hospital: the name and bed the referral carries, no link.
    expect(theirs.locator("h3")).to_contain_text(f"赵桂兰{size} · 305-1")
    expect(theirs.locator("h3 a")).to_have_count(0)
    expect(theirs.locator("button.transition")).to_have_text(["接收", "拒绝"])
    # The hospital starts no referral; it may send a resident back (test_return_page.py).
    expect(hospital.locator("#start-referral")).to_have_count(0)
    expect(hospital.locator("#return-referral")).to_have_count(1)
    _no_raw_values(hospital)
    screenshot(hospital, f"referrals-hospital-{size}")
    theirs.get_by_role("button", name="接收").click()
    expect(theirs).to_have_attribute("data-state", "accepted")
    expect(theirs.locator("button.transition")).to_have_count(0)

    home.reload()
    expect(card).to_have_attribute("data-state", "accepted")
    expect(card.locator("button.transition")).to_have_text(["出发转运", "取消转诊"])


def test_a_nurse_starts_a_referral_by_hand(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running
) -> None:
    _side_logins(api)
    rid = resident(db, "钱淑芬", room="306", bed="2")
    page: Page = open_page(locale="zh-CN", **PHONE)
    log_in(page, HOME_NURSE, "/referrals")
    page.locator(".start-referral summary").click()
    form = page.locator("#start-referral")
    form.get_by_role("button", name="发起转诊申请").click()
    expect(form).to_contain_text("请选择要转诊的长者。")
    form.get_by_label("长者").select_option(str(rid))
    expect(form.get_by_label("转往医院")).to_have_value(HOSPITAL_ID)
    form.get_by_label("转诊原因").fill("胸闷气短，血压偏低，家属同意转诊")
    screenshot(page, "referrals-start-phone")
    form.get_by_role("button", name="发起转诊申请").click()
    card = page.locator("li.referral", has_text="钱淑芬")
    expect(card).to_have_attribute("data-state", "requested")
    expect(card.locator(".reason")).to_have_text("胸闷气短，血压偏低，家属同意转诊")
    expect(card).to_contain_text("已发起转诊")
    stored = api.get("/api/v1/referrals", params={"resident": rid}).json()["items"]
    assert [(r["trigger"], r["hospital"]["id"], r["requester"]["id"]) for r in stored] == [
        ("staff", HOSPITAL_ID, HOME_NURSE)
    ]
    _no_raw_values(page)
    # Another language redraws the form and the cards in it.
    page.locator("#language").select_option("en")
    expect(page.locator(".start-referral summary")).to_have_text("Start a referral")
    expect(card.locator("button.transition")).to_have_text(["Cancel referral"])


def test_a_nurse_chooses_the_kind_and_is_offered_the_partners_that_take_it(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running
) -> None:
    _side_logins(api)
    rid = resident(db, "孙秀珍", room="308", bed="1")
    page: Page = open_page(locale="zh-CN")
    log_in(page, HOME_NURSE, "/referrals")
    page.locator(".start-referral summary").click()
    form = page.locator("#start-referral")
    form.get_by_label("长者").select_option(str(rid))
    # No hospice among the ward's partners: none offered, and the API says why.
    form.get_by_label("转诊类型").select_option("hospice")
    expect(form.get_by_label("转往医院").locator("option")).to_have_count(0)
    form.get_by_label("转诊原因").fill("晚期肿瘤，家属希望安宁疗护")
    form.get_by_role("button", name="发起转诊申请").click()
    expect(form.locator(".card-message")).to_contain_text("hospice")
    # An appointment goes to the general hospital.
    form.get_by_label("转诊类型").select_option("appointment")
    expect(form.get_by_label("转往医院")).to_have_value(HOSPITAL_ID)
    form.get_by_label("转诊原因").fill("白内障复查")
    form.get_by_role("button", name="发起转诊申请").click()
    card = page.locator("li.referral", has_text="孙秀珍")
    expect(card.locator(".badge.kind")).to_have_text("预约就诊")
    stored = api.get("/api/v1/referrals", params={"resident": rid}).json()["items"]
    assert [(r["kind"], r["hospital"]["id"]) for r in stored] == [("appointment", HOSPITAL_ID)]


def test_a_rules_reason_reads_in_chinese_without_its_snapshot_and_old_text_stays(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running
) -> None:
    """Until (or unless) a referral's snapshot loads, a rule's reason is put in words from its
    stored code; a referral from before the codes shows the English it was stored with."""
    _side_logins(api)
    referral_id = _suggested_after_a_fall(db, api, "钱玉梅")
    old_rid = resident(db, "孙建华", room="306", bed="1")
    old_text = "Fall reported by device (peak_g 2.9)"
    row = db.execute(
        "INSERT INTO referrals (resident_id, site_id, unit_id, hospital_id, hospital_name,"
        " state, trigger, reason, patient, created_at, updated_at) VALUES (%s, %s, %s, %s,"
        " 'Partner Hospital', 'requested', 'fall', %s, %s, now(), now()) RETURNING referral_id",
        [
            old_rid,
            SITE,
            UNIT,
            HOSPITAL_ID,
            old_text,
            json.dumps({"name": "孙建华", "sex": "unknown", "site_id": SITE, "unit_id": UNIT}),
        ],
    ).fetchone()
    assert row is not None
    db.commit()

    page: Page = open_page(locale="zh-CN", **SIZES["phone"])
    # No snapshot reaches the page: the list's reason code is all it has.
    page.route(re.compile(r"/api/v1/referrals/\d+$"), lambda route: route.abort())
    log_in(page, HOME_NURSE, "/referrals")
    card = page.locator(f"li.referral[data-referral-id='{referral_id}']")
    expect(card.locator(".reason")).to_have_text("设备报告跌倒，冲击 3.1 g")
    old = page.locator(f"li.referral[data-referral-id='{row[0]}']")
    expect(old.locator(".reason")).to_have_text(old_text)
    screenshot(page, "referrals-reason-code-phone")
