"""The resident page in a real browser: profile, NEWS2 with its parts, current vitals, a trend
chart with data and the alert limits drawn, switching metric and range, and a manual
observation that shows up at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from tests.e2e.alerting import resident
from tests.support import SITE, UNIT, Conn, login_as
from tests.web.conftest import TIMEOUT_MS, PageProblems, log_in, screenshot

pytestmark = pytest.mark.services

NURSE = "web-resident-nurse"
PHONE_ZONE = "America/New_York"  # the phone's zone, far from the site's
PHONE_SIZE: Any = {"width": 390, "height": 844}


def an_hour_of_vitals(db: Conn, resident_id: int) -> None:
    """One reading a minute for the last hour: heart rate drifting up, SpO2, RR, temperature
    and a blood pressure, consciousness and room air from the morning round."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    device = f"web-r-{resident_id}"
    rows: list[tuple[Any, ...]] = []
    for i in range(60):
        ts = now - timedelta(minutes=60 - i)
        for metric, value in (("hr", 70.0 + i * 0.3), ("spo2", 97.0 - i % 2), ("rr", 16.0)):
            rows.append((ts, device, resident_id, metric, value, "vitals"))
    rows.append((now - timedelta(minutes=5), device, resident_id, "temp", 37.1, "vitals"))
    round_at, by_hand = now - timedelta(minutes=30), f"manual-{resident_id}"
    for metric, value in (("sbp", 128.0), ("dbp", 78.0), ("acvpu", 0.0), ("on_o2", 0.0)):
        rows.append((round_at, by_hand, resident_id, metric, value, "manual"))
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, %s, now())",
            rows,
        )
    db.commit()


def open_resident(open_page: Any, db: Conn, api: TestClient, path: str = "") -> tuple[Page, int]:
    login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="web-rn")
    rid = resident(db, "Liu Fang", room="305", bed="1")
    an_hour_of_vitals(db, rid)
    page: Page = open_page()
    log_in(page, NURSE, f"/residents/{rid}{path}")
    expect(page.locator("#profile h1")).to_have_text("Liu Fang")
    return page, rid


def test_the_trend_chart_shows_the_readings_with_the_alert_limits(
    open_page: Any, db: Conn, api: TestClient, ward: str
) -> None:
    page, _ = open_resident(open_page, db, api, "?range=1h")
    chart = page.locator("#chart svg")
    expect(page.locator("#chart")).to_have_attribute("data-metric", "hr")
    expect(chart).to_have_attribute("data-points", "60")
    expect(chart.locator("path.avg")).to_have_count(1)
    # The heart-rate limits of docs/detection.md: below 41, above 120.
    limits = chart.locator("g.threshold")
    expect(limits).to_have_count(2)
    drawn = limits.evaluate_all("gs => gs.map(g => Number(g.dataset.value))")
    assert sorted(drawn) == [41, 120]
    expect(page.locator("#ranges button[aria-pressed='true']")).to_have_text("1 h")
    screenshot(page, "resident")

    page.locator("#metrics button[data-metric='spo2']").click()
    expect(page.locator("#chart")).to_have_attribute("data-metric", "spo2")
    expect(chart).to_have_attribute("data-points", "60")
    expect(chart.locator("g.threshold")).to_have_count(1)
    assert "metric=spo2" in page.url  # a link to this view shows the same chart

    page.locator("#ranges button[data-range='24h']").click()
    expect(page.locator("#chart")).to_have_attribute("data-range", "24h")
    # An hour of 5-minute buckets: 12, or 13 when the hour does not start on a bucket edge.
    expect(chart).to_have_attribute("data-points", re.compile(r"^1[23]$"))


def test_the_resident_page_shows_news2_and_takes_observations_from_the_round(
    open_page: Any, db: Conn, api: TestClient, ward: str
) -> None:
    page, rid = open_resident(open_page, db, api)
    expect(page.locator("#profile")).to_contain_text("Room 305")
    # NEWS2 from the wearable and the round: every parameter present, each with its score.
    expect(page.locator("#news2 table.parts tbody tr")).to_have_count(7)
    expect(page.locator("#news2-score")).to_have_text("0")
    expect(page.locator("#news2")).to_contain_text("Low risk")
    expect(page.locator("#latest .tile[data-metric='bp'] .tile-value")).to_contain_text("128/78")
    expect(page.locator("#latest .tile[data-metric='hr'] .tile-value")).to_contain_text("88")

    # A fever on the round: saved, then shown as the current temperature and in NEWS2.
    page.locator("#observe input[name='temp']").fill("38.4")
    page.locator("#observe select[name='acvpu']").select_option("A")
    page.get_by_role("button", name="Save observations").click()
    expect(page.locator("#notice")).to_contain_text("Observations saved.")
    expect(page.locator("#latest .tile[data-metric='temp'] .tile-value")).to_contain_text("38.4")
    expect(page.locator("#news2-score")).to_have_text("1")
    screenshot(page, "resident-round")
    stored = db.execute(
        "SELECT metric, value, recorded_by FROM manual_observations WHERE resident_id = %s"
        " ORDER BY metric",
        [rid],
    ).fetchall()
    assert stored == [("acvpu", 0.0, "web-rn"), ("temp", 38.4, "web-rn")]

    # Out of range never reaches the server.
    page.locator("#observe input[name='sbp']").fill("400")
    page.get_by_role("button", name="Save observations").click()
    expect(page.locator("#observe-error")).to_contain_text("between 50 and 260")


def test_times_are_on_the_sites_clock_on_a_phone_set_to_another_zone(
    browser: Browser, live_url: str, db: Conn, api: TestClient, ward: str
) -> None:
    login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="web-rn")
    rid = resident(db, "Zhou Lan", room="306", bed="1")
    an_hour_of_vitals(db, rid)
    profile = api.get(f"/api/v1/residents/{rid}").json()
    site = ZoneInfo(profile["site_timezone"])
    assert profile["site_timezone"] != PHONE_ZONE
    # An alert two days ago at 23:30 on the site's clock: 10:30 or 11:30 in New York.
    when = (datetime.now(site) - timedelta(days=2)).replace(
        hour=23, minute=30, second=0, microsecond=0
    )
    alert_id = 940_000_000 + rid
    db.execute(
        "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
        " severity, title, opened_at, resolved_at, updated_at) VALUES (%s, %s, %s, %s, %s,"
        " 'resolved', 'high', 'SOS', %s, %s, %s)",
        [alert_id, f"resident:{rid}", SITE, UNIT, rid, when, when, when],
    )
    db.execute(
        "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject, resident_id,"
        " title, severity, opened_at, first_ts, last_ts, count, outcome, resolved_at,"
        " updated_at) VALUES (%s, %s, 'sos', %s, %s, %s, 'SOS', 'high', %s, %s, %s, 1,"
        " 'false_alarm', %s, %s)",
        [alert_id, alert_id, f"tz{alert_id}", f"resident:{rid}", rid, *[when] * 5],
    )
    db.commit()

    context = browser.new_context(
        base_url=live_url, locale="zh-CN", timezone_id=PHONE_ZONE, viewport=PHONE_SIZE
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        problems = PageProblems(page)
        log_in(page, NURSE, f"/residents/{rid}?range=24h")
        item = page.locator(f"#alert-history li[data-alert-id='{alert_id}']")
        expect(item).to_contain_text(f"{when.month}月{when.day}日 23:30")
        away = when.astimezone(ZoneInfo(PHONE_ZONE))
        expect(item).not_to_contain_text(f"{away.day}日 {away:%H:%M}")
        # The chart's hours are the site's whole hours, named on its clock.
        labels = page.locator("#chart svg text.x-label")
        expect(page.locator("#chart")).to_have_attribute("data-range", "24h")
        expect(labels.first).to_be_attached()
        ticks = labels.evaluate_all("ts => ts.map(t => [t.dataset.at, t.textContent])")
        assert len(ticks) >= 3, ticks
        for at, text in ticks:
            local = datetime.fromisoformat(at).astimezone(site)
            assert (local.minute, text) == (0, f"{local:%H:%M}"), (at, text)
        screenshot(page, "resident-site-clock-phone-zh")
        assert not problems.found, problems.found
    finally:
        context.close()
