"""The resident record on the administrator's page, in a real browser, in Chinese at phone
size: an admission with the whole record, a resident ID with a wrong check character refused
under its field in Chinese, then saved encrypted; an edit that changes only what changed."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.support import SITE, UNIT, Conn, fresh_national_id, login_as
from tests.web.conftest import log_in, no_sideways_scroll, screenshot

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("ward")]

PHONE = {"width": 390, "height": 844}
NATIONAL_ID = fresh_national_id()  # one person, one record per site
# What the profile form always sends (the record's fields go only when changed).
PROFILE_FIELDS = {
    "unit_id",
    "display_name",
    "room",
    "bed",
    "conditions",
    "fall_risk",
    "news2_scale",
    "timezone",
    "rule_overrides",
}


def test_admit_with_the_whole_record_then_edit_it(
    open_page: Any, api: TestClient, db: Conn
) -> None:
    login_as(api, "web-admin-record", "admin", site=SITE)
    name = "周淑珍"
    page: Page = open_page(locale="zh-CN", **PHONE)
    log_in(page, "web-admin-record", "/admin")
    form = page.locator("#admit-form")
    form.locator("input[name=unit_id]").fill(UNIT)
    form.locator("input[name=display_name]").fill(name)
    form.locator("select[name=sex]").select_option("female")
    form.locator("input[name=birth_date]").fill("1949-12-31")
    typo = NATIONAL_ID[:-1] + ("1" if NATIONAL_ID[-1] != "1" else "2")  # a wrong check character
    form.locator("input[name=national_id]").fill(typo)
    form.locator("input[name=insurance_no]").fill("ZJ330106778899")
    form.locator("input[name=phone]").fill("13800138000")
    form.locator("input[name=address]").fill("杭州市西湖区文三路 1 号")
    form.locator("textarea[name=emergency_contacts]").fill("李梅，女儿，13900139000")
    form.locator("textarea[name=diagnoses]").fill("I10 原发性高血压\nE11.900 2型糖尿病")
    form.locator("input[name=allergies]").fill("青霉素、磺胺类")
    form.locator("textarea[name=medications]").fill("氨氯地平 5 mg 每日一次")
    form.locator("select[name=ability_level]").select_option("moderate")
    form.locator("input[name=ability_assessed_on]").fill("2026-03-01")
    form.locator("input[name=ability_due_on]").fill("2027-03-01")
    form.get_by_role("button", name="确认入院").click()
    expect(form.locator(".field[data-field=national_id] .field-error")).to_have_text(
        "身份证号码校验码不正确，请检查是否输错"
    )
    db.rollback()
    assert db.execute(
        "SELECT count(*) FROM residents WHERE display_name = %s", [name]
    ).fetchone() == (0,)
    form.locator("input[name=national_id]").fill(NATIONAL_ID)
    screenshot(page, "admin-record-admit-phone")
    form.get_by_role("button", name="确认入院").click()
    expect(page.locator("#notice")).to_contain_text(f"已办理入院：{name}")
    db.rollback()
    row = db.execute(
        "SELECT resident_id, sex, birth_date::text, national_id_enc IS NOT NULL, r::text,"
        " diagnoses, allergies, ability_level FROM residents r WHERE display_name = %s",
        [name],
    ).fetchone()
    assert row is not None
    resident_id, sex, born, encrypted, as_text, diagnoses, allergies, level = row
    assert (sex, born, encrypted, level) == ("female", "1949-12-31", True, "moderate")
    assert NATIONAL_ID[:17] not in as_text and "ZJ330106778899" not in as_text
    assert [d["code"] for d in diagnoses] == ["I10", "E11.900"]
    assert allergies == ["青霉素", "磺胺类"]
    no_sideways_scroll(page)

    # Editing: the form shows the record (whole, to an admin); one change, only it is sent.
    item = page.locator(f"[data-resident-id='{resident_id}']")
    item.get_by_role("button", name="修改资料").click()
    expect(item.locator("input[name=national_id]")).to_have_value(NATIONAL_ID)
    expect(item.locator("textarea[name=emergency_contacts]")).to_have_value(
        "李梅, 女儿, 13900139000"
    )
    expect(item.locator("select[name=ability_level]")).to_have_value("moderate")
    item.locator("input[name=allergies]").fill("青霉素")
    with page.expect_request(f"**/api/v1/residents/{resident_id}") as sent:
        item.get_by_role("button", name="保存修改").click()
    body: dict[str, Any] = sent.value.post_data_json or {}
    assert set(body) - PROFILE_FIELDS == {"allergies"}
    expect(page.locator("#notice")).to_contain_text(f"已保存：{name}")
    db.rollback()
    assert db.execute(
        "SELECT allergies, national_id_enc IS NOT NULL FROM residents WHERE resident_id = %s",
        [resident_id],
    ).fetchone() == (["青霉素"], True)
