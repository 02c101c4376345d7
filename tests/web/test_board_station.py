"""The board as a central station, in Chinese, on a desktop and a phone: one card per incident
(a fall, its long lie and the heart-rate spike after it are one card with a timeline),
unacknowledged first, then severity, then age; filters kept in the address; the room/bed
view of every resident; an alarm that keeps sounding until the last high or critical incident
is acknowledged, as the site's `board_alarm` says."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, login_as, wait_for
from tests.web.conftest import log_in, screenshot
from tests.web.test_board import offline_wearable
from tests.web.test_news2_pages import readings

pytestmark = pytest.mark.services

NURSE = "web-station-nurse"
ZH = "zh-CN"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def nurse(api: TestClient, ward: str) -> dict[str, str]:
    return login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="cg1")


def active(api: TestClient, n: int) -> list[dict[str, Any]]:
    """The open alerts once there are `n` of them."""
    items: list[dict[str, Any]] = wait_for(
        lambda: api.get("/api/v1/alerts", params={"site": SITE, "active": True}).json()["items"],
        until=lambda found: len(found) == n,
        what=f"{n} open alerts",
    )
    return items


def fall_with_long_lie(db: Conn, rid: int, now: datetime) -> None:
    """A fall, the long lie after it and the heart rate that rose: one incident."""
    subject = f"resident:{rid}"
    candidate(db, subject, rule_id="fall.device", severity="high", ts=now - timedelta(minutes=3))
    candidate(
        db,
        subject,
        rule_id="fall.long_lie",
        severity="critical",
        title="Long lie",
        ts=now - timedelta(minutes=2),
    )
    candidate(
        db,
        subject,
        rule_id="vital.hr.high",
        severity="high",
        title="Heart rate high",
        values={"value": 128.0},
        ts=now - timedelta(minutes=1),
    )


def ready(page: Page) -> None:
    """The alerts and the residents (their names, beds, devices) are loaded."""
    expect(page.locator("#alerts")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#ward")).to_have_attribute("data-loaded", "true")


def card_names(page: Page) -> list[str]:
    return page.locator("#alerts > li.alert .who a").all_inner_texts()


def test_one_card_per_incident_unacknowledged_first_and_filters_kept_in_the_address(
    open_page: Any, db: Conn, api: TestClient, nurse: dict[str, str], alert_service: Running
) -> None:
    now = datetime.now(UTC)
    fallen = resident(db, "王秀英", room="201", bed="1")
    acked = resident(db, "李建国", room="202", bed="1")
    device = resident(db, "张桂兰", room="203", bed="1")
    warm = resident(db, "刘淑珍", room="204", bed="2")
    # Oldest first: the acknowledged high, the device medium, the fever medium, then the fall.
    candidate(db, f"resident:{acked}", rule_id="vital.spo2.low", ts=now - timedelta(minutes=30))
    candidate(
        db,
        f"resident:{device}",
        rule_id="device.offline",
        severity="medium",
        audience="technical",
        values={"device_id": "w-station-1", "device_kind": "wearable"},
        ts=now - timedelta(minutes=20),
    )
    candidate(
        db,
        f"resident:{warm}",
        rule_id="fever",
        severity="medium",
        ts=now - timedelta(minutes=10),
    )
    fall_with_long_lie(db, fallen, now)
    alerts = active(api, 6)
    falls = [a for a in alerts if a["resident_id"] == fallen]
    assert len({a["incident_id"] for a in falls}) == 1, falls
    spo2 = next(a for a in alerts if a["resident_id"] == acked)
    answer = api.post(f"/api/v1/alerts/{spo2['alert_id']}/ack", headers=nurse)
    assert answer.status_code == 200, answer.text

    page: Page = open_page(locale=ZH)
    log_in(page, NURSE)
    ready(page)
    cards = page.locator("#alerts > li.alert")
    expect(cards).to_have_count(4)
    # Unacknowledged critical, then unacknowledged by age, the acknowledged high last.
    assert card_names(page) == ["王秀英", "张桂兰", "刘淑珍", "李建国"], card_names(page)
    fall = cards.nth(0)
    expect(fall).to_have_attribute("data-severity", "critical")
    expect(fall).to_have_attribute("data-alerts", "3")
    expect(fall.locator(".alert-title")).to_have_text("跌倒后长时间未起身")
    steps = fall.locator(".timeline li.step")
    expect(steps).to_have_count(3)
    assert steps.locator(".step-rule").all_inner_texts() == [
        "设备报告跌倒",
        "跌倒后长时间未起身",
        "心率过高",
    ]
    expect(cards.nth(2).locator(".alert-title")).to_have_text("发热")
    expect(cards.nth(3)).to_have_attribute("data-status", "acknowledged")
    expect(cards.nth(1)).to_have_attribute("data-family", "device")
    expect(cards.nth(1).locator(".badge.family")).to_have_text("设备")
    screenshot(page, "station-order-zh")

    # Filters: severity, then kind; each kept in the address and after a reload.
    page.get_by_role("button", name="危急", exact=True).click()
    expect(cards).to_have_count(1)
    expect(page).to_have_url(re.compile(r"severity=critical"))
    expect(page.locator("#filtered")).to_contain_text("3")
    page.reload()
    ready(page)
    expect(cards).to_have_count(1)
    expect(page.get_by_role("button", name="危急", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    page.get_by_role("button", name="危急", exact=True).click()
    page.get_by_role("button", name="设备", exact=True).click()
    expect(page).to_have_url(re.compile(r"family=device"))
    expect(page).not_to_have_url(re.compile(r"severity="))
    expect(cards).to_have_count(1)
    assert card_names(page) == ["张桂兰"]
    screenshot(page, "station-filter-zh")


def test_the_unit_filter_of_a_user_of_two_units_loads_that_unit(
    open_page: Any, db: Conn, api: TestClient, alert_service: Running
) -> None:
    db.execute("INSERT INTO units VALUES (%s, 'u2', 'Second unit') ON CONFLICT DO NOTHING", [SITE])
    login_as(api, "web-station-charge", "nurse", site=SITE, units=(UNIT, "u2"), staff="cn1")
    here = resident(db, "马玉珍", room="601", bed="1")
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, room, bed)"
        " VALUES (%s, 'u2', '郭明', '701', '1') RETURNING resident_id",
        [SITE],
    ).fetchone()
    assert row is not None
    there = int(row[0])
    candidate(db, f"resident:{here}", rule_id="sos", severity="critical", title="SOS")
    candidate(db, f"resident:{there}", rule_id="vital.spo2.low", severity="high")
    active(api, 2)

    page: Page = open_page(locale=ZH)
    log_in(page, "web-station-charge")
    ready(page)
    cards = page.locator("#alerts > li.alert")
    expect(cards).to_have_count(2)  # every unit of the user's
    page.get_by_role("button", name="高", exact=True).click()
    expect(cards).to_have_count(1)
    page.locator("#unit-filter").select_option("u2")
    expect(page).to_have_url(re.compile(r"unit=u2"))
    expect(page.locator("#place")).to_have_text(f"院区 {SITE} · 单元 u2")
    ready(page)
    assert card_names(page) == ["郭明"]
    expect(page).to_have_url(re.compile(r"severity=high"))
    page.get_by_role("button", name="高", exact=True).click()
    expect(cards).to_have_count(1)  # the other unit's critical is not loaded here
    page.locator("#unit-filter").select_option("")
    expect(page.locator("#place")).to_have_text(f"院区 {SITE} · 全部单元")
    expect(cards).to_have_count(2)
    screenshot(page, "station-units-zh")


def test_the_bed_view_shows_every_resident_at_a_glance_on_a_phone(
    open_page: Any, db: Conn, api: TestClient, nurse: dict[str, str], alert_service: Running
) -> None:
    alarmed = resident(db, "陈玉兰", room="301", bed="1")
    unplugged = resident(db, "杨志强", room="301", bed="2")
    calm = resident(db, "赵淑华", room="302", bed="1")
    waiting = resident(db, "黄德明", room="302", bed="2")
    for rid in (unplugged, calm):
        readings(
            db,
            rid,
            {"spo2": 97.0, "rr": 16.0, "hr": 70.0, "temp": 37.0},
            source="vitals",
            age=timedelta(minutes=1),
        )
        readings(
            db,
            rid,
            {"sbp": 120.0, "acvpu": 0.0, "on_o2": 0.0},
            source="manual",
            age=timedelta(minutes=30),
        )
    offline_wearable(db, unplugged)
    candidate(db, f"resident:{alarmed}", rule_id="sos", severity="critical", title="SOS")
    active(api, 1)

    page: Page = open_page(locale=ZH, **PHONE)
    log_in(page, NURSE)
    page.get_by_role("button", name="床位总览").click()
    expect(page).to_have_url(re.compile(r"view=grid"))
    expect(page.locator("#ward")).to_be_visible()
    expect(page.locator("#alerts")).to_be_hidden()
    expect(page.locator("#ward")).to_have_attribute("data-loaded", "true")

    def tile(rid: int) -> Any:
        return page.locator(f"#ward li.tile[data-resident-id='{rid}']")

    expect(tile(alarmed)).to_have_attribute("data-state", "alert")
    expect(tile(alarmed)).to_have_attribute("data-severity", "critical")
    expect(tile(alarmed)).to_contain_text("危急 · 紧急呼叫")
    expect(tile(alarmed)).to_contain_text("301 房 · 1 床")
    expect(tile(unplugged)).to_have_attribute("data-state", "device")
    expect(tile(unplugged)).to_contain_text("离线")
    expect(tile(waiting)).to_have_attribute("data-state", "obs")
    expect(tile(waiting)).to_contain_text("观察已逾期")
    expect(tile(calm)).to_have_attribute("data-state", "ok")
    expect(tile(calm)).to_contain_text("正常")
    # In room and bed order.
    ids = [
        int(i)
        for i in page.locator("#ward li.tile").evaluate_all(
            "tiles => tiles.map(t => t.dataset.residentId)"
        )
    ]
    mine = [i for i in ids if i in (alarmed, unplugged, calm, waiting)]
    assert mine == [alarmed, unplugged, calm, waiting], mine
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px wider than the phone"
    screenshot(page, "station-beds-phone-zh")

    # The view is kept in the address: reopened, the board shows the beds again.
    page.reload()
    expect(page.locator("#ward")).to_be_visible()
    page.get_by_role("button", name="警报列表").click()
    expect(page.locator("#alerts")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"view=grid"))


def beeps(page: Page) -> int:
    return int(page.locator("#board").get_attribute("data-beeps") or 0)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_alarm_sounds_until_the_last_loud_incident_is_acknowledged(
    open_page: Any,
    db: Conn,
    api: TestClient,
    nurse: dict[str, str],
    alert_service: Running,
    size: str,
) -> None:
    first = resident(db, "孙丽华", room="401", bed="1")
    second = resident(db, "周建华", room="402", bed="1")
    candidate(db, f"resident:{first}", rule_id="sos", severity="critical", title="SOS")
    candidate(db, f"resident:{second}", rule_id="vital.spo2.low", severity="high")
    active(api, 2)

    page: Page = open_page(locale=ZH, **(PHONE if size == "phone" else {}))
    log_in(page, NURSE)
    board = page.locator("#board")
    expect(board).to_have_attribute("data-alarm", "on")
    expect(board).to_have_attribute("data-alarm-level", "critical")
    expect(board).to_have_attribute("data-alarm-sound", "loop")
    expect(page.locator("#alarm-banner")).to_contain_text("2 条高危警报待确认")
    # It sounds again and again, not once (every 3 s).
    wait_for(lambda: beeps(page), until=lambda n: n >= 2, what="a second beep")
    screenshot(page, f"station-alarm-{size}-zh")

    # Acknowledging one silences that one; the other still sounds, at its own level.
    critical = page.locator("#alerts > li.alert[data-severity='critical']")
    critical.get_by_role("button", name="确认接手").click()
    expect(critical).to_have_attribute("data-status", "acknowledged")
    expect(board).to_have_attribute("data-alarm", "on")
    expect(board).to_have_attribute("data-alarm-level", "high")
    expect(page.locator("#alarm-banner")).to_contain_text("1 条高危警报待确认")
    heard = beeps(page)
    wait_for(lambda: beeps(page), until=lambda n: n > heard, what="the alarm going on")

    high = page.locator("#alerts > li.alert[data-severity='high']")
    high.get_by_role("button", name="确认接手").click()
    expect(board).to_have_attribute("data-alarm", "off")
    expect(board).to_have_attribute("data-alarm-sound", "off")
    expect(page.locator("#alarm-banner")).to_be_hidden()
    # Stopped: no beep in the next two repeat periods.
    silent = beeps(page)
    page.wait_for_timeout(6_500)
    assert beeps(page) == silent
    screenshot(page, f"station-alarm-silenced-{size}-zh")


def test_a_site_that_wants_one_beep_gets_one(
    open_page: Any,
    db: Conn,
    api: TestClient,
    nurse: dict[str, str],
    alert_service: Running,
    receivers: tuple[HttpReceiver, SmtpReceiver],
) -> None:
    document = team(*receivers)
    document["sites"] = {SITE: {"board_alarm": "once"}}
    store(db, document)
    rid = resident(db, "吴桂英", room="501", bed="1")
    page: Page = open_page(locale=ZH)
    log_in(page, NURSE)
    board = page.locator("#board")
    expect(page.locator("#alerts")).to_have_attribute("data-loaded", "true")
    expect(board).to_have_attribute("data-alarm", "off")
    candidate(db, f"resident:{rid}", rule_id="sos", severity="critical", title="SOS")
    expect(board).to_have_attribute("data-alarm", "on")
    expect(board).to_have_attribute("data-alarm-sound", "once")
    expect(board).to_have_attribute("data-beeps", "1")
    page.wait_for_timeout(6_500)  # two repeat periods of the continuous alarm
    expect(board).to_have_attribute("data-beeps", "1")


def test_an_escalated_incident_says_to_which_level_on_a_phone(
    open_page: Any,
    db: Conn,
    api: TestClient,
    nurse: dict[str, str],
    alert_service: Running,
    receivers: tuple[HttpReceiver, SmtpReceiver],
) -> None:
    # The caregiver's page goes unanswered for a second: the charge nurse (level 2) is paged,
    # and the physician (level 3) not for an hour.
    document = team(*receivers)
    steps = [
        {"who": ["caregiver"], "timeout_s": 1.0},
        {"who": ["charge_nurse"], "timeout_s": 3600.0},
        {"who": ["physician"]},
    ]
    every = {"steps": steps}
    document["alerts"]["escalation"]["default"] = dict.fromkeys(
        ("low", "medium", "high", "critical"), every
    )
    store(db, document)
    rid = resident(db, "孙凤兰", room="502", bed="1")
    candidate(db, f"resident:{rid}", rule_id="sos", severity="critical", title="SOS")
    alert = wait_for(
        lambda: active(api, 1)[0],
        until=lambda a: a["status"] == "escalated" and a["escalation_step"] == 2,
        what="the incident escalated to level 2",
    )

    page: Page = open_page(locale=ZH, **PHONE)
    log_in(page, NURSE)
    ready(page)
    card = page.locator("#alerts > li.alert")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("data-status", "escalated")
    expect(card.locator(".status-label")).to_have_text("已升级至第 2 级")
    screenshot(page, "station-escalated-phone-zh")

    # Acknowledged, it still says how far it went.
    answer = api.post(f"/api/v1/alerts/{alert['alert_id']}/ack", headers=nurse)
    assert answer.status_code == 200, answer.text
    expect(card).to_have_attribute("data-status", "acknowledged")
    expect(card.locator(".status-label")).to_have_text("已确认")
    expect(card).to_contain_text("已升级至第 2 级")
