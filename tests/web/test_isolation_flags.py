"""Isolation and cohort flags in a real browser, in Chinese, on a phone: a unit cohorted and a
resident in isolation show as a banner and a chip on the residents list and on the board; the
ward views go round isolated residents last in their unit, a cohorted unit's as one group; an
alert about a whole site (a site-level cluster) says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from services.api.routes.web import WEB_DIR
from tests.support import SITE, Conn, login_as
from tests.web.conftest import log_in, no_sideways_scroll, screenshot

pytestmark = pytest.mark.services

ZH = json.loads((WEB_DIR / "i18n" / "zh.json").read_text())
PHONE = {"width": 390, "height": 844}
UNIT = "obw1"


def test_flags_show_on_the_residents_list_and_the_board(
    db: Conn, api: TestClient, ward: str, open_page: Any
) -> None:
    db.execute("INSERT INTO units VALUES (%s, %s, '隔离单元') ON CONFLICT DO NOTHING", [SITE, UNIT])
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, room, bed)"
        " VALUES (%s, %s, '钱秀兰', '301', '1') RETURNING resident_id",
        [SITE, UNIT],
    ).fetchone()
    assert row is not None
    db.commit()
    rid = int(row[0])
    nurse = login_as(api, "web-iso-nurse", "nurse", site=SITE, units=(UNIT,))
    for body in (
        {"kind": "isolation", "reason": "呕吐", "resident_id": rid},
        {"kind": "cohort", "reason": "胃肠道聚集", "unit_id": UNIT},
    ):
        made = api.post("/api/v1/isolation-flags", json=body, headers=nurse)
        assert made.status_code == 201, made.text
    banner = ZH["isolation.unit_cohort"].format(unit=UNIT, reason="胃肠道聚集")

    page: Page = open_page(locale="zh-CN", **PHONE)
    log_in(page, "web-iso-nurse", "/residents")
    expect(page.locator("#isolation-banner")).to_have_text(banner)
    flagged = page.locator(f"tr[data-resident-id='{rid}'] .isolation-flag")
    expect(flagged).to_have_text(ZH["isolation.isolation"])
    no_sideways_scroll(page)
    screenshot(page, "isolation-residents-phone-zh")

    page.goto("/board")
    expect(page.locator("#isolation-banner")).to_have_text(banner)
    tile = page.locator(f"#ward li[data-resident-id='{rid}'] .isolation-flag")
    expect(tile).to_have_text(ZH["isolation.isolation"])


def _resident(db: Conn, unit: str, name: str, room: str) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, room, bed)"
        " VALUES (%s, %s, %s, %s, '1') RETURNING resident_id",
        [SITE, unit, name, room],
    ).fetchone()
    assert row is not None
    db.commit()
    return int(row[0])


def test_the_ward_views_go_round_isolated_residents_last_and_group_a_cohorted_unit(
    db: Conn, api: TestClient, ward: str, open_page: Any
) -> None:
    units = ("obw2", "obw3")
    for unit in units:
        db.execute(
            "INSERT INTO units VALUES (%s, %s, '巡视单元') ON CONFLICT DO NOTHING", [SITE, unit]
        )
    # In bed order the isolated resident would come first in their unit.
    isolated = _resident(db, "obw2", "赵隔离", "201")
    others = [_resident(db, "obw2", "钱其他", "202"), _resident(db, "obw2", "孙其他", "203")]
    elsewhere = _resident(db, "obw3", "李别处", "301")
    nurse = login_as(api, "web-round-nurse", "nurse", site=SITE, units=units)
    for body in (
        {"kind": "isolation", "reason": "腹泻", "resident_id": isolated},
        {"kind": "cohort", "reason": "诺如病毒", "unit_id": "obw2"},
    ):
        made = api.post("/api/v1/isolation-flags", json=body, headers=nurse)
        assert made.status_code == 201, made.text
    heading = ZH["isolation.unit_cohort"].format(unit="obw2", reason="诺如病毒")
    expected = [*others, isolated, elsewhere]

    page: Page = open_page(locale="zh-CN", **PHONE)
    log_in(page, "web-round-nurse", "/residents")
    table = page.locator("#ward-table[data-loaded='true']")
    expect(table).to_be_visible()
    expect(page.locator("#round-note")).to_be_visible()
    expect(page.locator("#round-note")).to_have_text(ZH["isolation.round_note"])
    rows = page.locator("#ward-rows tr")
    expect(rows.nth(0)).to_have_text(heading)  # the cohort's heading, then its residents
    ids = page.locator("#ward-rows tr[data-resident-id]")
    expect(ids).to_have_count(4)
    assert [int(i) for i in ids.evaluate_all("rs => rs.map(r => r.dataset.residentId)")] == expected
    iso = page.locator(f"#ward-rows tr[data-resident-id='{isolated}']")
    expect(iso).to_have_attribute("data-precaution", "isolation")
    expect(iso).to_have_attribute("data-cohort", "obw2")
    expect(iso.locator(".isolation-flag")).to_have_text(ZH["isolation.isolation"])
    lone = page.locator(f"#ward-rows tr[data-resident-id='{elsewhere}']")
    expect(lone).not_to_have_attribute("data-cohort", "obw2")
    no_sideways_scroll(page)
    screenshot(page, "isolation-round-order-phone-zh")

    page.goto("/board")
    tiles = page.locator("#ward li[data-resident-id]")
    expect(tiles).to_have_count(4)
    expect(page.locator("#ward li.cohort-head")).to_have_text(heading)
    got = tiles.evaluate_all("ts => ts.map(t => Number(t.dataset.residentId))")
    assert got == expected
    expect(page.locator(f"#ward li[data-resident-id='{isolated}']")).to_have_attribute(
        "data-precaution", "isolation"
    )

    page.goto("/handover")
    due = page.locator("#due li[data-resident-id]")
    expect(due).to_have_count(4)
    assert due.evaluate_all("ds => ds.map(d => Number(d.dataset.residentId))") == expected
    expect(page.locator("#due li.cohort-head")).to_have_text(heading)
    expect(page.locator("#round-note")).to_be_visible()
    expect(page.locator("#round-note")).to_have_text(ZH["isolation.round_note"])


def test_an_alert_about_a_whole_site_says_so_on_the_board(
    db: Conn, api: TestClient, ward: str, open_page: Any
) -> None:
    # A site-level cluster's incident, as the alert service stores it: no unit, no resident.
    aid = 880_000 + int(datetime.now(UTC).timestamp()) % 100_000
    rule = "outbreak.site_gastrointestinal_cluster"
    db.execute(
        "INSERT INTO incidents (incident_id, subject, audience, site_id, unit_id, resident_id,"
        " state, severity, title, opened_at, delivered_at, updated_at)"
        " VALUES (%s, %s, 'infection_control', %s, NULL, NULL, 'notified', 'high', 'Cluster',"
        " now(), now(), now())",
        [aid, f"site:{SITE}", SITE],
    )
    db.execute(
        "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject, title,"
        " severity, opened_at, first_ts, last_ts, count, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, 'Cluster', 'high', now(), now(), now(), 1, now())",
        [aid, aid, rule, f"{rule}:site:{SITE}:{aid}", f"site:{SITE}"],
    )
    db.commit()
    try:
        login_as(api, "web-site-lead", "nurse", site=SITE)  # the whole site
        page: Page = open_page(locale="zh-CN", **PHONE)
        log_in(page, "web-site-lead", "/board")
        card = page.locator(f".alert[data-incident-id='{aid}']")
        expect(card).to_contain_text(ZH["board.site_alert"].format(site=SITE))
        expect(card).to_contain_text(ZH[f"rule.{rule}"])
    finally:
        db.execute("DELETE FROM alerts WHERE alert_id = %s", [aid])
        db.execute("DELETE FROM incidents WHERE incident_id = %s", [aid])
        db.commit()
