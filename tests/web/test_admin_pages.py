"""The administrator's and the integrator's pages in a real browser, in Chinese, at phone size
and on a desktop: a resident admitted and a device assigned (and unassigned) from the web,
checked in the database; a care team edit refused with the problem named by its key, then
saved; an integrator's login landing on the devices page, whose states agree with themselves."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from tests.e2e.alerting import store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import PASSWORD, SITE, UNIT, Conn, login_as
from tests.web.conftest import log_in, no_sideways_scroll, screenshot

pytestmark = [pytest.mark.services, pytest.mark.usefixtures("ward")]

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


def provision(api: TestClient) -> str:
    device_id = f"wa-{uuid.uuid4().hex[:8]}"
    made = api.post("/api/v1/devices", json={"device_id": device_id, "site_id": SITE})
    assert made.status_code == 201, made.text
    return device_id


@pytest.mark.parametrize("size", SIZES)
def test_admit_a_resident_and_assign_a_device_from_the_web(
    open_page: Any, api: TestClient, db: Conn, size: str
) -> None:
    admin = f"web-admin-{size}"
    login_as(api, admin, "admin", site=SITE)
    device_id = provision(api)
    name = f"王秀英 {size}"
    page: Page = open_page(locale="zh-CN", **SIZES[size])
    log_in(page, admin, "/admin")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".nav")).to_contain_text("管理")

    form = page.locator("#admit-form")
    expect(form.locator("input[name=site_id]")).to_have_value(SITE)  # the admin's own site
    form.locator("input[name=unit_id]").fill(UNIT)
    form.locator("input[name=room]").fill("305")
    form.locator("input[name=bed]").fill("2")
    # Conditions are ticked by their names in Chinese (the catalogue), saved as their codes.
    conditions = form.locator(".field[data-field=conditions]")
    expect(conditions.locator("legend")).to_have_text("主要病情")
    conditions.get_by_label("慢阻肺").check()
    conditions.get_by_label("认知症").check()
    expect(conditions.get_by_label("高血压")).not_to_be_checked()
    form.locator("input[name=fall_risk]").check()
    form.locator("select[name=news2_scale]").select_option("2")
    # Refused first without a name: the field is marked, in Chinese, and nothing is stored.
    form.get_by_role("button", name="确认入院").click()
    expect(form.locator(".field[data-field=display_name] .field-error")).to_have_text("不能为空")
    form.locator("input[name=display_name]").fill(name)
    screenshot(page, f"admin-admit-{size}")
    form.get_by_role("button", name="确认入院").click()
    expect(page.locator("#notice")).to_contain_text(f"已办理入院：{name}")
    db.rollback()
    row = db.execute(
        "SELECT resident_id, site_id, unit_id, room, bed, conditions, fall_risk, news2_scale"
        " FROM residents WHERE display_name = %s",
        [name],
    ).fetchone()
    assert row is not None
    resident_id = row[0]
    assert row[1:] == (SITE, UNIT, "305", "2", ["copd", "dementia"], True, 2)
    expect(page.locator(f"[data-resident-id='{resident_id}']")).to_contain_text(name)
    no_sideways_scroll(page)

    page.get_by_role("link", name="设备分配").click()
    device = page.locator(f"#assign-list [data-device-id='{device_id}']")
    expect(device).to_contain_text("从未通信")
    expect(device).to_contain_text("未分配")
    device.locator("select.choose-resident").select_option(str(resident_id))
    device.get_by_role("button", name="确认分配").click()
    expect(device).to_contain_text(f"佩戴者：{name}")
    screenshot(page, f"admin-device-assigned-{size}")
    no_sideways_scroll(page)
    db.rollback()
    assert db.execute(
        "SELECT resident_id FROM device_assignments WHERE device_id = %s AND upper_inf(during)",
        [device_id],
    ).fetchall() == [(resident_id,)]

    device.get_by_role("button", name="解除分配").click()
    expect(device).to_contain_text("未分配")
    db.rollback()
    assert db.execute(
        "SELECT count(*) FROM device_assignments WHERE device_id = %s AND upper_inf(during)",
        [device_id],
    ).fetchone() == (0,)


def test_edit_the_profile_of_a_resident(open_page: Any, api: TestClient, db: Conn) -> None:
    login_as(api, "web-admin-profile", "admin", site=SITE)
    made = api.post(
        "/api/v1/residents",
        json={
            "site_id": SITE,
            "unit_id": UNIT,
            "display_name": "李桂兰",
            "room": "101",
            "conditions": ["diabetes"],
        },
    )
    assert made.status_code == 201, made.text
    resident_id = made.json()["resident_id"]
    page: Page = open_page(locale="zh-CN", **SIZES["phone"])
    log_in(page, "web-admin-profile", "/admin")
    row = page.locator(f"[data-resident-id='{resident_id}']")
    row.get_by_role("button", name="修改资料").click()
    row.locator("input[name=room]").fill("102")
    # The conditions stored are ticked under their Chinese names; one more is ticked here.
    expect(row.get_by_label("糖尿病")).to_be_checked()
    expect(row.get_by_label("慢阻肺")).not_to_be_checked()
    row.get_by_label("心力衰竭").check()
    # An alert setting that does not exist: refused, named under the field, nothing stored.
    row.locator("textarea[name=rule_overrides]").fill('{"vitals": {"spo2": {"lowest": 1}}}')
    row.get_by_role("button", name="保存修改").click()
    expect(row.locator(".field[data-field=rule_overrides] .field-error")).to_have_text(
        "vitals.spo2.lowest：不认识的字段（请检查拼写）"
    )
    expect(row.locator(".form-errors")).to_contain_text("未保存")
    screenshot(page, "admin-profile-refused-phone")
    db.rollback()
    assert db.execute(
        "SELECT room FROM residents WHERE resident_id = %s", [resident_id]
    ).fetchone() == ("101",)
    row.locator("textarea[name=rule_overrides]").fill("")
    row.get_by_role("button", name="保存修改").click()
    expect(page.locator("#notice")).to_contain_text("已保存：李桂兰")
    db.rollback()
    assert db.execute(
        "SELECT room, conditions FROM residents WHERE resident_id = %s", [resident_id]
    ).fetchone() == ("102", ["diabetes", "heart_failure"])


@pytest.mark.parametrize("size", SIZES)
def test_a_care_team_edit_is_refused_by_key_in_chinese_then_saved(
    open_page: Any,
    api: TestClient,
    db: Conn,
    receivers: tuple[HttpReceiver, SmtpReceiver],
    size: str,
) -> None:
    http, smtp = receivers
    store(db, team(http, smtp))
    admin = f"web-admin-team-{size}"
    login_as(api, admin, "admin", site=SITE)
    page: Page = open_page(locale="zh-CN", **SIZES[size])
    log_in(page, admin, "/admin")
    page.get_by_role("link", name="照护团队").click()
    editor = page.locator("#team-json")
    expect(editor).to_have_value(re.compile("json://…"))
    document = json.loads(editor.input_value())
    del document["staff"][0]["name"]
    editor.fill(json.dumps(document, ensure_ascii=False, indent=2))
    page.get_by_role("button", name="保存团队").click()
    errors = page.locator("#team-errors")
    expect(errors).to_contain_text("未保存：以下 1 项有误")
    problem = errors.locator("li[data-key='staff.0.name']")
    expect(problem).to_have_text("人员 › 第 1 项 › 姓名：必填")
    screenshot(page, f"admin-team-refused-{size}")
    no_sideways_scroll(page)

    document["staff"][0]["name"] = "李娜（夜班）"
    editor.fill(json.dumps(document, ensure_ascii=False, indent=2))
    page.get_by_role("button", name="保存团队").click()
    expect(page.locator("#notice")).to_contain_text("照护团队已保存")
    expect(errors).to_be_hidden()
    db.rollback()
    row = db.execute("SELECT document FROM care_team ORDER BY version DESC LIMIT 1").fetchone()
    assert row is not None
    assert row[0]["staff"][0]["name"] == "李娜（夜班）"
    assert row[0]["staff"][0]["channels"] == [http.url("cg1")]  # kept, though shown hidden


@pytest.mark.parametrize("size", SIZES)
def test_an_integrator_lands_on_the_devices_page(
    open_page: Any, api: TestClient, db: Conn, size: str
) -> None:
    integrator = f"web-integrator-{size}"
    login_as(api, integrator, "integrator", site=SITE)  # bound to no site: no device
    silent, dropped = provision(api), provision(api)
    # The broker's last will for one of them, a second ago: offline, and it says since when.
    db.execute(
        "INSERT INTO device_status (ts, device_id, online, battery, fw, received_at)"
        " VALUES (now() - interval '1 second', %s, false, 41, '2.0.1',"
        " now() - interval '1 second')",
        [dropped],
    )
    db.commit()
    page: Page = open_page(locale="zh-CN", **SIZES[size])
    page.goto("/login")
    page.locator("#username").fill(integrator)
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-submit").click()
    page.wait_for_url(re.compile(r"/devices$"))
    nav = page.locator(".nav")
    expect(nav).to_contain_text("设备")
    expect(nav).not_to_contain_text("警报看板")
    expect(nav).not_to_contain_text("管理")
    card = page.locator(f"[data-device-id='{dropped}']")
    expect(card).to_have_attribute("data-status", "disconnected")
    expect(card.locator(".device-status")).to_have_text(re.compile(r"^离线 · .*断开连接$"))
    expect(card).to_contain_text("固件 2.0.1")
    expect(card).to_contain_text("电量 41%")
    expect(page.locator(f"[data-device-id='{silent}'] .device-status")).to_have_text("从未通信")
    card.locator("summary").click()
    expect(card.locator(".rejections-box")).to_contain_text("没有被拒收的消息。")
    screenshot(page, f"devices-integrator-{size}")
    no_sideways_scroll(page)
