"""The referrals page in a real browser: an open referral is listed with its state, moves on
with one click, and a step that needs a reason asks for one."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.alerting import Running, resident
from tests.support import SITE, UNIT, Conn, login_as
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
