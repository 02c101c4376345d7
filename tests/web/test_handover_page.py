"""The shift handover and the residents list in a real browser, in Chinese, on a phone
(390x844) and a desktop: an alert resolved during the shift with its outcome and note and who
acknowledged it, one still open, observations due; the list sorted by NEWS2; and on paper
(print media) no navigation, on the handover and on the resident page."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from services.api.routes.web import WEB_DIR
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, login_as, wait_for
from tests.web.conftest import HOSPITAL_ID, log_in, no_sideways_scroll, screenshot

pytestmark = pytest.mark.services

NURSE = "web-handover-nurse"
ZH = json.loads((WEB_DIR / "i18n" / "zh.json").read_text())
PHONE = {"width": 390, "height": 844}
NOTE = "已扶起，无外伤，已通知家属"


@pytest.fixture
def nurse(api: TestClient, ward: str) -> dict[str, str]:
    # Staff id cg1 ("Li Na" in the test care team): acknowledgements are recorded under it.
    return login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="cg1")


def shift_ending_soon(
    db: Conn, receivers: tuple[HttpReceiver, SmtpReceiver], steps: list[Any] | None = None
) -> None:
    """The test care team with a charge nurse's shift that began three hours ago and ends in
    half an hour (Shanghai time): the shift a handover is written for now. `steps`: the
    escalation of every severity, if not the test team's."""
    http, smtp = receivers
    document = team(http, smtp)
    if steps is not None:
        every = {"steps": steps}
        document["alerts"]["escalation"]["default"] = dict.fromkeys(
            ("low", "medium", "high", "critical"), every
        )
    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    start, end = now - timedelta(hours=3), now + timedelta(minutes=30)
    document["hospitals"] = [
        {"id": HOSPITAL_ID, "name": "市第一人民医院", "sites": [SITE], "channels": [http.url("h")]}
    ]
    document["shifts"] = [
        *document["shifts"],
        {"staff": "cn1", "site": SITE, "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"},
    ]
    store(db, document)


def alert_of(api: TestClient, rid: int) -> dict[str, Any]:
    items = wait_for(
        lambda: api.get("/api/v1/alerts", params={"resident": rid}).json()["items"],
        until=lambda found: len(found) == 1,
        what=f"the alert of resident {rid}",
    )
    found: dict[str, Any] = items[0]
    return found


def display(page: Page, selector: str) -> str:
    shown: str = page.locator(selector).first.evaluate("el => getComputedStyle(el).display")
    return shown


def test_the_handover_shows_the_shift_in_chinese_on_a_phone_and_a_desktop_and_prints(
    open_page: Any,
    db: Conn,
    api: TestClient,
    nurse: dict[str, str],
    alert_service: Running,
    receivers: tuple[HttpReceiver, SmtpReceiver],
) -> None:
    shift_ending_soon(db, receivers)
    fallen = resident(db, "王秀英", room="301", bed="2")
    calling = resident(db, "李建国", room="302", bed="1")
    candidate(db, f"resident:{fallen}", values={"peak_g": 3.2})
    alert_id = alert_of(api, fallen)["alert_id"]
    acked = api.post(f"/api/v1/alerts/{alert_id}/ack", headers=nurse)
    assert acked.status_code == 200, acked.text
    done = api.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        json={"outcome": "actionable", "note": NOTE},
        headers=nurse,
    )
    assert done.status_code == 200, done.text
    candidate(db, f"resident:{calling}", rule_id="sos", severity="critical", title="SOS")
    open_id = alert_of(api, calling)["alert_id"]
    referred = api.post(
        "/api/v1/referrals", json={"resident_id": fallen, "reason": "跌倒后需拍片"}, headers=nurse
    )
    assert referred.status_code == 201, referred.text

    page: Page = open_page(locale="zh-CN", **PHONE)
    log_in(page, NURSE, "/handover")
    expect(page.locator("#handover")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#window")).to_have_attribute("data-basis", "shift")
    expect(page.locator("#window")).to_contain_text("Asia/Shanghai")
    resolved = page.locator(f"#resolved li[data-alert-id='{alert_id}']")
    expect(resolved).to_contain_text("王秀英")
    expect(resolved).to_contain_text(ZH["rule.fall.device"])
    expect(resolved).to_contain_text(ZH["outcome.actionable"])
    expect(resolved).to_contain_text(NOTE)
    expect(resolved.locator(".acked")).to_contain_text("Li Na")
    expect(resolved).to_have_attribute("data-outcome", "actionable")
    still = page.locator(f"#still-open li[data-alert-id='{open_id}']")
    expect(still).to_contain_text("李建国")
    expect(still).to_contain_text(ZH["rule.sos"])
    expect(still).to_contain_text(ZH["handover.not_acked"])
    moved = page.locator(f"#moved li[data-referral-id='{referred.json()['id']}']")
    expect(moved).to_contain_text("王秀英")
    expect(moved).to_contain_text("市第一人民医院")
    expect(moved).to_contain_text(ZH["state.requested"])
    # No readings at all: both are overdue for observations.
    for rid in (fallen, calling):
        expect(page.locator(f"#due li[data-resident-id='{rid}']")).to_have_attribute(
            "data-status", "overdue"
        )
    expect(page.locator("#summary li[data-key='resolved']")).to_have_text(
        ZH["handover.summary_resolved"].replace("{n}", "1")
    )
    # The board's header links here.
    expect(page.locator(".nav a[href='/handover']")).to_have_attribute("aria-current", "page")
    no_sideways_scroll(page)
    screenshot(page, "handover-phone-zh")

    desktop: Page = open_page(locale="zh-CN")
    log_in(desktop, NURSE, "/handover")
    expect(desktop.locator(f"#resolved li[data-alert-id='{alert_id}']")).to_contain_text(NOTE)
    screenshot(desktop, "handover-desktop-zh")

    # On paper: no navigation, no buttons; on screen they are there.
    assert display(desktop, "#top") != "none"
    assert display(desktop, "#print") != "none"
    desktop.emulate_media(media="print")
    assert display(desktop, "#top") == "none"
    assert display(desktop, "#print") == "none"
    assert display(desktop, "#choose-window") == "none"
    assert display(desktop, "#resolved") != "none"
    # White on colour stays readable: the badges keep their colour on paper.
    adjust = desktop.locator("#due .badge").first.evaluate(
        "el => getComputedStyle(el).printColorAdjust"
    )
    assert adjust == "exact"
    screenshot(desktop, "handover-print-zh")


def readings(db: Conn, rid: int, **values: float) -> None:
    """Wearable readings a minute old and the rest from a round ten minutes ago."""
    now = datetime.now(UTC)
    for metric, value in values.items():
        manual = metric in ("acvpu", "sbp", "on_o2")
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, %s, now())",
            [
                now - timedelta(minutes=10 if manual else 1),
                f"manual-{rid}" if manual else f"web-ho-{rid}",
                rid,
                metric,
                value,
                "manual" if manual else "vitals",
            ],
        )
    db.commit()


def listed(page: Page, among: set[str]) -> list[str]:
    """The residents of `among` in the order the list shows them."""
    ids: list[str] = page.locator("#ward-rows tr").evaluate_all(
        "rs => rs.map(r => r.dataset.residentId)"
    )
    return [i for i in ids if i in among]


def test_the_residents_list_sorts_by_news2_on_a_phone_and_a_desktop(
    open_page: Any, db: Conn, api: TestClient, nurse: dict[str, str], alert_service: Running
) -> None:
    calm = resident(db, "赵淑珍", room="401", bed="1")
    sick = resident(db, "钱文华", room="402", bed="1")
    unknown = resident(db, "孙桂兰", room="403", bed="1")
    # A name with nowhere to break (an imported record's id, say) must not push a phone sideways.
    resident(db, "Resident-" + "x" * 60, room="404", bed="1")
    # An incomplete score that proves a high band has the longest NEWS2 label.
    partial = resident(db, "李秀英", room="405", bed="1")
    readings(db, partial, rr=26, spo2=90, hr=118)
    normal = {"rr": 16.0, "spo2": 97.0, "hr": 72.0, "temp": 36.8, "acvpu": 0.0, "sbp": 124.0}
    readings(db, calm, **normal, on_o2=0.0)
    # RR 26 (3), SpO2 90 (3), HR 118 (2), temperature 38.6 (1), SBP 98 (2): NEWS2 11, high.
    readings(db, sick, rr=26, spo2=90, hr=118, temp=38.6, acvpu=0, sbp=98, on_o2=0)
    candidate(db, f"resident:{sick}", rule_id="sos", severity="critical", title="SOS")
    alert_of(api, sick)
    mine = {str(calm), str(sick), str(unknown)}

    for name, size in (("phone", PHONE), ("desktop", {"width": 1280, "height": 900})):
        page: Page = open_page(locale="zh-CN", **size)
        log_in(page, NURSE, "/residents")
        table = page.locator("#ward-table")
        expect(table).to_have_attribute("data-loaded", "true")
        rows = page.locator("#ward-rows tr")
        expect(page.locator(f"tr[data-resident-id='{sick}']")).to_contain_text("钱文华")
        sick_row = page.locator(f"tr[data-resident-id='{sick}']")
        expect(sick_row).to_have_attribute("data-score", "11")
        expect(sick_row).to_contain_text(ZH["band.high"])
        expect(sick_row).to_contain_text(ZH["severity.critical"])
        expect(sick_row.locator("a")).to_have_attribute("href", f"/residents/{sick}")
        calm_row = page.locator(f"tr[data-resident-id='{calm}']")
        expect(calm_row).to_have_attribute("data-complete", "true")
        expect(calm_row).to_contain_text(ZH["band.low"])
        # A Chinese list of parameters is joined with 、, not an English comma.
        overdue = page.locator(f"tr[data-resident-id='{partial}'] .obs").inner_text()
        assert "、" in overdue and "," not in overdue, overdue
        unknown_row = page.locator(f"tr[data-resident-id='{unknown}']")
        expect(unknown_row).to_have_attribute("data-complete", "false")
        expect(unknown_row).to_contain_text(ZH["news2.incomplete"])
        assert listed(page, mine) == [str(calm), str(sick), str(unknown)]  # by bed
        page.locator("button.sort[data-sort='news2']").click()
        expect(table).to_have_attribute("data-sort", "news2")
        expect(page.locator("#col-news2")).to_have_attribute("aria-sort", "descending")
        assert listed(page, mine) == [str(sick), str(calm), str(unknown)]
        scores = rows.evaluate_all("rs => rs.map(r => Number(r.dataset.score))")
        assert scores == sorted(scores, reverse=True)
        assert "sort=news2" in page.url
        no_sideways_scroll(page)
        # The list has the page's width below its heading (not squeezed into a grid column).
        head, listing = (page.locator(s).bounding_box() for s in (".board-head", "#ward-table"))
        assert head is not None and listing is not None
        assert listing["y"] >= head["y"] + head["height"], (head, listing)
        assert listing["width"] >= head["width"] - 1, (head, listing)
        screenshot(page, f"residents-{name}-zh")


def test_the_resident_page_prints_without_navigation_or_the_form(
    open_page: Any, db: Conn, api: TestClient, nurse: dict[str, str]
) -> None:
    rid = resident(db, "周玉梅", room="501", bed="1")
    page: Page = open_page(locale="zh-CN")
    log_in(page, NURSE, f"/residents/{rid}")
    expect(page.locator("#profile h1")).to_have_text("周玉梅")
    assert display(page, "#top") != "none"
    assert display(page, "#observe") != "none"
    page.emulate_media(media="print")
    assert display(page, "#top") == "none"
    assert display(page, "section:has(#observe)") == "none"
    assert display(page, "#news2") != "none"
    screenshot(page, "resident-print-zh")


def test_a_resident_at_home_is_placed_at_home_on_every_page(
    open_page: Any,
    db: Conn,
    api: TestClient,
    nurse: dict[str, str],
    alert_service: Running,
    receivers: tuple[HttpReceiver, SmtpReceiver],
) -> None:
    # A family bed: the room is stored as "home" (as the demo admits them), said as 居家.
    shift_ending_soon(db, receivers)
    at_home = resident(db, "马林", room="home", bed="")
    candidate(db, f"resident:{at_home}", rule_id="sos", severity="critical", title="SOS")
    alert_id = alert_of(api, at_home)["alert_id"]
    page: Page = open_page(locale="zh-CN", **PHONE)

    def placed(where: Any) -> None:
        expect(where).to_contain_text(ZH["resident.home"])
        expect(where).not_to_contain_text("home")

    log_in(page, NURSE)
    placed(page.locator(f"li.alert[data-alert-id='{alert_id}'] .who"))
    page.get_by_role("button", name="床位总览").click()
    expect(page.locator("#ward")).to_have_attribute("data-loaded", "true")
    placed(page.locator(f"#ward li.tile[data-resident-id='{at_home}']"))
    page.goto(page.url.split("/board")[0] + "/residents")
    expect(page.locator("#ward-table")).to_have_attribute("data-loaded", "true")
    placed(page.locator(f"tr[data-resident-id='{at_home}']"))
    page.goto(page.url.split("/residents")[0] + "/handover")
    expect(page.locator("#handover")).to_have_attribute("data-loaded", "true")
    placed(page.locator(f"#still-open li[data-alert-id='{alert_id}']"))
    placed(page.locator(f"#due li[data-resident-id='{at_home}']"))
    page.goto(page.url.split("/handover")[0] + f"/residents/{at_home}")
    placed(page.locator("#profile"))
    screenshot(page, "resident-at-home-phone-zh")


def test_the_handover_says_to_which_level_an_alert_escalated(
    open_page: Any,
    db: Conn,
    api: TestClient,
    nurse: dict[str, str],
    alert_service: Running,
    receivers: tuple[HttpReceiver, SmtpReceiver],
) -> None:
    # The caregiver's page goes unanswered for a second: the charge nurse (level 2) is paged.
    steps = [
        {"who": ["caregiver"], "timeout_s": 1.0},
        {"who": ["charge_nurse"], "timeout_s": 3600.0},
        {"who": ["physician"]},
    ]
    shift_ending_soon(db, receivers, steps)
    rid = resident(db, "周桂芳", room="503", bed="1")
    candidate(db, f"resident:{rid}", rule_id="sos", severity="critical", title="SOS")
    alert = wait_for(
        lambda: alert_of(api, rid),
        until=lambda a: a["status"] == "escalated" and a["escalation_step"] == 2,
        what="the alert escalated to level 2",
    )
    page: Page = open_page(locale="zh-CN", **PHONE)
    log_in(page, NURSE, "/handover")
    item = page.locator(f"#still-open li[data-alert-id='{alert['alert_id']}']")
    expect(item.locator(".status-label")).to_have_text("已升级至第 2 级")
    screenshot(page, "handover-escalated-phone-zh")

    # Acknowledged, it still says how far it went (the status says who has it).
    answer = api.post(f"/api/v1/alerts/{alert['alert_id']}/ack", headers=nurse)
    assert answer.status_code == 200, answer.text
    page.reload()
    expect(item.locator(".status-label")).to_have_text(ZH["status.acknowledged"])
    expect(item.locator(".escalated")).to_have_text("已升级至第 2 级")
