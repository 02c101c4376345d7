"""The staff health check-in page in a real browser, in Chinese, on a phone (390x844): a
member of staff checks in with a temperature and vomiting (stored for their unit, and fed to
the outbreak rules); a lead sees them checked in."""

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
UNIT = "obs-web"


def test_a_member_of_staff_checks_in_from_a_phone_in_chinese(
    db: Conn, api: TestClient, ward: str, open_page: Any
) -> None:
    db.execute("INSERT INTO units VALUES (%s, %s, '打卡单元') ON CONFLICT DO NOTHING", [SITE, UNIT])
    db.commit()
    login_as(api, "web-checkin-nurse", "nurse", site=SITE, units=(UNIT,), staff="web-ck")
    page: Page = open_page(locale="zh-CN", **PHONE)
    log_in(page, "web-checkin-nurse", "/checkin")
    expect(page.locator("h1")).to_have_text(ZH["checkin.heading"])
    page.locator("input[name=temperature]").fill("37.6")
    page.get_by_label(ZH["symptom.vomiting"]).check()
    page.get_by_role("button", name=ZH["checkin.submit"]).click()
    saved = ZH["checkin.saved"].format(unit=UNIT, temperature="37.6")
    expect(page.locator("#done")).to_have_text(saved)
    # The lead's list of the day shows the check-in (this nurse is a lead of the unit).
    expect(page.locator("#checked-in")).to_contain_text("web-ck")
    no_sideways_scroll(page)
    screenshot(page, "checkin-phone-zh")
    row = db.execute(
        "SELECT c.unit_id, c.temperature, c.symptoms FROM staff_checkins c"
        " JOIN staff_people p USING (person_id) WHERE p.staff_id = 'web-ck'"
    ).fetchall()
    assert row == [(UNIT, 37.6, ["vomiting"])]
