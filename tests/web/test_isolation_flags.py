"""Isolation and cohort flags in a real browser, in Chinese, on a phone: a unit cohorted and a
resident in isolation show as a banner and a chip on the residents list and on the board."""

from __future__ import annotations

import json
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
