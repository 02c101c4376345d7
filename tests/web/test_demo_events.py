"""`carewatch demo event` against a real `carewatch up`: a fall asked for reaches the demo
pager within a minute, in Chinese, and is acknowledged from its link on a phone; bad requests
exit 2; a second simulator of the demo ward is refused instead of knocking the first off the
broker."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import psycopg
from playwright.sync_api import Browser, expect

from services.operations.local.env import scratch_settings, service_env
from services.settings import Settings, database_url
from tests.e2e.test_up import CLI, ctrl_c, healthy, start_up
from tests.support import count, wait_for
from tests.web.conftest import TIMEOUT_MS, screenshot


def carewatch(
    settings: Settings, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=service_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_fall_asked_for_is_paged_in_chinese_within_a_minute_and_acked_on_a_phone(
    browser: Browser,
) -> None:
    settings = scratch_settings("carewatch-demo-")
    proc, out = start_up(settings, "--residents", "2")
    try:
        wait_for(lambda: healthy(settings), until=bool, timeout=90, what=f"/healthz\n{out}")
        with psycopg.connect(database_url(settings), autocommit=True) as db:
            serving = db.execute("SELECT now()").fetchone()  # after the demo's history
            assert serving is not None
            wait_for(
                lambda: count(
                    db,
                    "SELECT count(DISTINCT device_id) FROM readings WHERE received_at > %s",
                    serving[0],
                ),
                until=lambda n: n == 6,  # two residents and the family bed, live
                timeout=90,
                what="live readings from every simulated device",
            )
            socket_file = Path(settings.data_dir) / "demo-control.sock"
            assert stat.S_ISSOCK(socket_file.stat().st_mode)
            assert stat.S_IMODE(socket_file.stat().st_mode) == 0o600

            unknown = carewatch(settings, "demo", "event", "flood")
            assert unknown.returncode == 2 and "unknown event 'flood'" in unknown.stderr
            nobody = carewatch(settings, "demo", "event", "sos", "--resident", "999")
            assert nobody.returncode == 2 and "no demo resident '999'" in nobody.stderr

            # The demo ward's devices are taken: a second simulator says so and leaves.
            second = carewatch(settings, "sim", "--residents", "2", "--duration", "5")
            assert second.returncode == 1, second.stdout + second.stderr
            assert "already simulated" in second.stderr and "--devices" in second.stderr

            asked = carewatch(settings, "demo", "event", "fall")
            assert asked.returncode == 0, asked.stderr
            match = re.search(r"fall sent to resident (\d+)", asked.stdout)
            assert match, asked.stdout
            resident = int(match.group(1))
            paged = wait_for(
                lambda: count(
                    db,
                    "SELECT count(*) FROM notifications n JOIN alerts a USING (incident_id)"
                    " WHERE n.kind = 'page' AND n.status = 'delivered'"
                    " AND n.channels[1] LIKE '%%/demo/pager/%%'"
                    " AND a.rule_id LIKE 'fall%%' AND a.resident_id = %s",
                    resident,
                ),
                until=lambda n: n > 0,
                timeout=60,
                every=0.5,
                what=f"the fall paged to the demo pager\n{out}",
            )
            assert paged > 0
            acknowledge_from_the_pager(browser, settings.api_port)
    finally:
        ctrl_c(proc, out)
    assert not (Path(settings.data_dir) / "demo-control.sock").exists()
    stopped = carewatch(settings, "demo", "event", "fall")
    assert stopped.returncode == 2 and "no demo simulator is running" in stopped.stderr


def acknowledge_from_the_pager(browser: Browser, port: int) -> None:
    """What a newcomer does next: open the demo pager on a phone, read the fall's page in
    Chinese, tap its link and take the alert on."""
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{port}", locale="zh-CN", viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(TIMEOUT_MS)
    try:
        phone = context.new_page()
        phone.goto("/demo/pager")
        expect(phone.locator("h1")).to_have_text("演示寻呼机")
        fall = phone.locator("article", has_text="跌倒").first
        expect(fall.locator("h2")).to_contain_text("【")  # 【严重】… the severity, in Chinese
        expect(fall.locator(".meta")).to_contain_text(re.compile(r"\d+月\d+日 \d\d:\d\d"))
        expect(fall).not_to_contain_text("Demo")  # the demo ward's names are Chinese too
        screenshot(phone, "demo-pager-zh-phone")
        fall.locator("a[href*='/a/']").first.click()
        expect(phone.locator("#ack")).to_have_text("我来处理 — 确认接手")
        phone.locator("#ack").click()
        expect(phone.locator("#done")).to_have_text("已确认接手，谢谢。")
        screenshot(phone, "demo-ack-zh-phone")
    finally:
        context.close()
