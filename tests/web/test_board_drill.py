"""A drill on the board, in a real browser, in Chinese: the drill's cluster alert (started by
`POST /api/v1/outbreaks/drills`, paged by the alert service) carries a 演练 badge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from services.api.routes.web import WEB_DIR
from tests.e2e.alerting import Running
from tests.support import SITE, Conn, login_as
from tests.web.conftest import log_in

pytestmark = pytest.mark.services

ZH = json.loads((WEB_DIR / "i18n" / "zh.json").read_text())
UNIT = "obd-web"


def test_a_drill_is_marked_on_the_board(
    db: Conn, api: TestClient, ward: str, open_page: Any, alert_service: Running
) -> None:
    db.execute("INSERT INTO units VALUES (%s, %s, '演练单元') ON CONFLICT DO NOTHING", [SITE, UNIT])
    db.commit()
    lead = login_as(api, "web-drill-lead", "nurse", site=SITE, units=(UNIT,))
    started = api.post("/api/v1/outbreaks/drills", json={"unit_id": UNIT}, headers=lead)
    assert started.status_code == 201, started.text
    page: Page = open_page(locale="zh-CN")
    log_in(page, "web-drill-lead")
    card = page.locator("li.alert", has_text=ZH["rule.outbreak.gastrointestinal_cluster"])
    expect(card.locator(".badge.drill")).to_have_text(ZH["board.drill"])
