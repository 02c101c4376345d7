"""NEWS2 on the pages in a real browser (issue 12): an incomplete score shows the band its
present parameters prove, in that band's colour, with what is missing; observations due and
overdue (RCP 2017 frequency for the risk) on the resident page and the board, in English and
Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.alerting import Running, candidate, resident
from tests.support import SITE, UNIT, Conn, login_as
from tests.web.conftest import log_in, screenshot

pytestmark = pytest.mark.services

NURSE = "web-news2-nurse"
# A wearable's parameters scoring 3 + 3 + 3 + 2 + 2 = 13; it cannot tell consciousness.
DEVICE_13 = {"rr": 25.0, "spo2": 91.0, "hr": 131.0, "temp": 39.1, "sbp": 100.0, "on_o2": 0.0}


@pytest.fixture
def nurse(api: TestClient, ward: str) -> str:
    login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="cg1")
    return NURSE


def readings(db: Conn, rid: int, values: dict[str, float], *, source: str, age: timedelta) -> None:
    at = datetime.now(UTC) - age
    device = f"{'manual' if source == 'manual' else 'web-n2'}-{rid}"
    for metric, value in values.items():
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, %s, now())",
            [at, device, rid, metric, value, source],
        )
    db.commit()


def test_an_incomplete_news2_shows_its_proven_band_and_the_overdue_round(
    open_page: Any, db: Conn, nurse: str
) -> None:
    rid = resident(db, "Sun Li", room="308", bed="1")
    readings(db, rid, DEVICE_13, source="vitals", age=timedelta(minutes=1))
    page: Page = open_page()
    log_in(page, nurse, f"/residents/{rid}")
    total = page.locator("#news2 .news2-total")
    expect(page.locator("#news2-score")).to_have_text("≥ 13")
    expect(total).to_have_attribute("data-band", "high")  # the high band's colour
    expect(page.locator("#news2-band")).to_have_text("At least High risk · incomplete")
    expect(page.locator("#news2-missing")).to_have_text("Missing or out of date: Consciousness")
    observations = page.locator("#news2-observations")
    expect(observations).to_have_attribute("data-status", "overdue")
    expect(observations).to_contain_text("Observations overdue: Consciousness")
    expect(observations).to_contain_text("at this risk every 15 min")
    screenshot(page, "resident-news2-incomplete")

    # The round charts consciousness: complete, high, next due within the quarter hour.
    page.locator("#observe select[name='acvpu']").select_option("A")
    page.get_by_role("button", name="Save observations").click()
    expect(page.locator("#news2-score")).to_have_text("13")
    expect(page.locator("#news2-band")).to_have_text("High risk")
    expect(page.locator("#news2-missing")).to_have_count(0)
    expect(observations).to_have_attribute("data-status", "ok")
    expect(observations).to_contain_text("Next observations due")

    chinese = open_page(locale="zh-CN")
    log_in(chinese, nurse, f"/residents/{resident(db, 'Sun Mei')}")
    expect(chinese.locator("#news2-score")).to_have_text("≥ 0")
    expect(chinese.locator("#news2-band")).to_have_text("数据不全")  # nothing proven
    expect(chinese.locator("#news2-observations")).to_contain_text("观察已逾期")


def test_a_round_falls_due_with_the_risk(open_page: Any, db: Conn, nurse: str) -> None:
    # NEWS2 5 on the wearable (SpO2 91 → 3, RR 21 → 2): hourly; the round was 65 minutes ago.
    rid = resident(db, "Qian Bo", room="309", bed="1")
    wearable = {"spo2": 91.0, "rr": 21.0, "hr": 70.0, "temp": 37.0}
    readings(db, rid, wearable, source="vitals", age=timedelta(minutes=1))
    round_values = {"sbp": 120.0, "acvpu": 0.0, "on_o2": 0.0}
    readings(db, rid, round_values, source="manual", age=timedelta(minutes=65))
    page: Page = open_page()
    log_in(page, nurse, f"/residents/{rid}")
    expect(page.locator("#news2-score")).to_have_text("5")
    expect(page.locator("#news2 .news2-total")).to_have_attribute("data-band", "medium")
    observations = page.locator("#news2-observations")
    expect(observations).to_have_attribute("data-status", "due")
    expect(observations).to_contain_text(
        "Observations due now: Air or oxygen, Systolic BP, Consciousness"
    )
    expect(observations).to_contain_text("every 1 h")


def test_the_board_lists_observations_due_with_the_band_and_says_a_total_is_a_bound(
    open_page: Any, db: Conn, nurse: str, alert_service: Running
) -> None:
    high = resident(db, "Zhao Lin", room="310", bed="1")
    readings(db, high, DEVICE_13, source="vitals", age=timedelta(minutes=1))
    calm = resident(db, "Wu Jing", room="311", bed="1")
    readings(
        db,
        calm,
        {"spo2": 97.0, "rr": 16.0, "hr": 70.0, "temp": 37.0},
        source="vitals",
        age=timedelta(minutes=1),
    )
    readings(
        db,
        calm,
        {"sbp": 120.0, "acvpu": 0.0, "on_o2": 0.0},
        source="manual",
        age=timedelta(minutes=30),
    )
    page: Page = open_page()
    log_in(page, nurse)
    row = page.locator(f"#observations li[data-resident-id='{high}']")
    expect(row).to_have_attribute("data-status", "overdue")
    expect(row).to_have_attribute("data-band", "high")
    expect(row).to_contain_text("Zhao Lin")
    expect(row.locator(".news2-chip")).to_have_text("≥ 13")
    expect(row).to_contain_text("At least High risk")
    expect(row).to_contain_text("Observations overdue: Consciousness")
    expect(page.locator(f"#observations li[data-resident-id='{calm}']")).to_have_count(0)

    # The alert the detector raised from those parameters: a lower bound, and what is missing.
    candidate(
        db,
        f"resident:{high}",
        rule_id="news2",
        severity="critical",
        title="NEWS2 ≥ 13: high clinical risk (missing or out of date: ACVPU)",
        values={
            "total": 13,
            "band": "high",
            "scale": 1,
            "complete": "no: the total is a lower bound",
            "missing": "acvpu",
        },
        suggestion="referral",
    )
    card = page.locator("li.alert", has_text="Zhao Lin")
    expect(card).to_have_attribute("data-severity", "critical")
    expect(card.locator(".values")).to_have_text(
        "score ≥ 13 · missing or out of date: Consciousness"
    )
    screenshot(page, "board-news2")
