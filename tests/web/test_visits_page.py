"""Visits and rounds in a real browser, in Chinese: a schedule whose due time has passed shows
as overdue (已逾期, in red) on the resident page and in the board's overdue rounds of the
caregiver on shift; recording the visit through the card, with an observation, clears both
and charts the observation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from services.api.routes.web import WEB_DIR
from tests.e2e.test_family_care import admit, place
from tests.e2e.test_visits_api import schedule
from tests.support import Conn, login_as
from tests.web.conftest import log_in, no_sideways_scroll, screenshot

pytestmark = pytest.mark.services

ZH = json.loads((WEB_DIR / "i18n" / "zh.json").read_text())
SITE = "web-vis"
RED = "rgb(179, 0, 27)"  # --critical


def test_an_overdue_round_shows_on_the_resident_page_and_the_board_until_recorded(
    open_page: Any, db: Conn, api: TestClient, ward: str
) -> None:
    place(db, SITE, kind="institution")
    rid = admit(db, "周玉兰", SITE, "h1")
    other = admit(db, "陈平", SITE, "h1")
    login_as(api, "web-vis-cg", "caregiver", site=SITE)
    admin = {"Authorization": str(api.headers["Authorization"])}
    now = datetime.now(UTC)
    due = now - timedelta(hours=2, minutes=10)  # first due: two hours and ten minutes ago
    late = schedule(api, rid, "血压测量（每日两次）", 12, due, admin)
    later = schedule(api, rid, "家庭医生月访", 720, now + timedelta(days=3), admin)
    schedule(api, other, "体温巡视", 24, now + timedelta(hours=5), admin)  # not overdue

    page: Page = open_page(locale="zh-CN")
    log_in(page, "web-vis-cg", f"/residents/{rid}")
    card = page.locator("#visits[data-loaded='true']")
    expect(card.locator("h2")).to_have_text(ZH["visits.heading"])
    overdue = card.locator(f"li[data-schedule='{late['schedule_id']}']")
    expect(overdue).to_contain_text("已逾期 2 小时")
    expect(overdue.locator(".badge.overdue")).to_have_css("background-color", RED)
    expect(overdue).to_contain_text(ZH["visits.kind.vitals_round"])
    expect(overdue).to_contain_text("每 12 小时")
    expect(overdue).to_contain_text(f"上次：{ZH['visits.never']}")
    monthly = card.locator(f"li[data-schedule='{later['schedule_id']}']")
    expect(monthly).to_contain_text("每 30 天")
    expect(monthly).not_to_contain_text("已逾期")
    screenshot(page, "visits-card-zh")

    board: Page = open_page(locale="zh-CN")
    log_in(board, "web-vis-cg", "/board")
    rounds = board.locator("#rounds[data-loaded='true']")
    row = rounds.locator(f"li.round-overdue[data-resident-id='{rid}']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("周玉兰")
    expect(row).to_contain_text(ZH["visits.round_overdue"])
    expect(row).to_contain_text("血压测量（每日两次） · 已晚 2 小时")
    expect(rounds.locator("li.round-overdue")).to_have_count(1)  # 陈平's is not due yet
    screenshot(board, "board-rounds-zh")

    # Record the visit: an out-of-range reading is refused in Chinese, then a good one saves.
    overdue.get_by_role("button", name=ZH["visits.record"]).click()
    form = overdue.locator("form.visit-form")
    form.locator("input[name=sbp]").fill("400")
    form.get_by_role("button", name=ZH["visits.save_visit"]).click()
    expect(form.locator(".form-errors")).to_have_text(
        f"{ZH['visits.field.sbp']}：{ZH['programme.error_type.less_than_equal']}"
    )
    form.locator("input[name=sbp]").fill("132")
    form.locator("input[name=note]").fill("晚间巡视")
    form.get_by_role("button", name=ZH["visits.save_visit"]).click()
    expect(overdue).not_to_contain_text("已逾期")
    expect(overdue).not_to_contain_text(ZH["visits.never"])
    expect(overdue).to_contain_text("下次：")
    charted = db.execute(
        "SELECT value FROM readings WHERE resident_id = %s AND metric = 'sbp'"
        " AND source = 'manual'",
        [rid],
    ).fetchall()
    assert [r[0] for r in charted] == [132.0]

    board.reload()
    expect(board.locator("#rounds[data-loaded='true']")).to_contain_text(ZH["visits.none_overdue"])
    expect(board.locator(f"#rounds li[data-resident-id='{rid}']")).to_have_count(0)

    # A schedule added through the form: an empty name is refused in Chinese, then it saves.
    page.locator("#visits summary").click()
    adding = page.locator("#visits form.schedule-form")
    adding.locator("select[name=kind]").select_option("nurse_visit")
    adding.locator("input[name=interval_hours]").fill("168")
    adding.get_by_role("button", name=ZH["visits.add_save"]).click()
    expect(adding.locator(".form-errors")).to_have_text(
        f"{ZH['visits.field.label']}：{ZH['error_type.string_too_short']}"
    )
    adding.locator("input[name=label]").fill("护士上门换药")
    adding.get_by_role("button", name=ZH["visits.add_save"]).click()
    added = card.locator("li.visit-schedule").filter(has_text="护士上门换药")
    expect(added).to_contain_text(f"{ZH['visits.kind.nurse_visit']} · 每 7 天")
    expect(card.locator("li.visit-schedule")).to_have_count(3)
    listed = api.get(f"/api/v1/residents/{rid}/visit-schedules").json()["items"]
    assert {(s["kind"], s["interval_hours"]) for s in listed} == {
        ("vitals_round", 12),
        ("vitals_round", 720),
        ("nurse_visit", 168),
    }

    phone: Page = open_page(locale="zh-CN", width=390, height=844)
    log_in(phone, "web-vis-cg", f"/residents/{rid}")
    phone.locator("#visits[data-loaded='true'] summary").click()
    expect(phone.locator("#visits form.schedule-form")).to_be_visible()
    no_sideways_scroll(phone)
