"""The alert board in a real browser: log in, see a new alert arrive live from the stream
(no reload), hear it, acknowledge and resolve it with one tap each; who is on shift and which
devices are silent."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route, expect

from tests.e2e.alerting import Running, candidate, resident
from tests.support import SITE, UNIT, Conn, login_as, wait_for
from tests.web.conftest import log_in, screenshot

pytestmark = pytest.mark.services

NURSE = "web-board-nurse"


@pytest.fixture
def nurse(api: TestClient, ward: str) -> str:
    # Staff id cg1: the caregiver of the test care team, as acknowledgements are recorded.
    login_as(api, NURSE, "nurse", site=SITE, units=(UNIT,), staff="cg1")
    return NURSE


def offline_wearable(db: Conn, resident_id: int) -> str:
    """A wearable on the resident whose last status said offline."""
    device_id = f"web-w-{resident_id}"
    db.execute(
        "INSERT INTO devices (device_id, site_id, kind, secret_hash)"
        " VALUES (%s, %s, 'wearable', 'x')",
        [device_id, SITE],
    )
    db.execute(
        "INSERT INTO device_assignments VALUES (%s, %s, tstzrange(%s, NULL))",
        [device_id, resident_id, datetime.now(UTC) - timedelta(days=1)],
    )
    db.execute(
        "INSERT INTO device_status (ts, device_id, online, battery, received_at)"
        " VALUES (%s, %s, false, 64, now())",
        [datetime.now(UTC) - timedelta(minutes=20), device_id],
    )
    db.commit()
    return device_id


def alert_of(api: TestClient, resident_id: int) -> dict[str, Any]:
    items = api.get("/api/v1/alerts", params={"resident": resident_id}).json()["items"]
    assert len(items) == 1, items
    found: dict[str, Any] = items[0]
    return found


def test_a_new_alert_arrives_live_and_is_acknowledged_then_resolved_from_the_board(
    open_page: Any, db: Conn, api: TestClient, nurse: str, alert_service: Running
) -> None:
    rid = resident(db, "Zhang Wei", room="203", bed="2")
    device = offline_wearable(db, rid)
    page: Page = open_page()
    log_in(page, nurse, shot="login")

    # The user's own unit by default, connected to the live stream, nothing open yet.
    expect(page.locator("#place")).to_have_text(f"Site {SITE} · unit {UNIT}")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("#alerts")).to_have_attribute("data-loaded", "true")
    expect(page.locator("#no-alerts")).to_be_visible()
    expect(page.locator("#on-duty")).to_contain_text("Li Na")
    devices = page.locator(f"#devices li[data-device-id='{device}']")
    expect(devices).to_contain_text("Zhang Wei")
    expect(devices).to_contain_text("Offline")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    candidate(db, f"resident:{rid}", values={"peak_g": 3.1})
    card = page.locator("li.alert", has_text="Zhang Wei")
    expect(card).to_be_visible()
    expect(card).to_have_attribute("data-severity", "high")
    expect(card).to_contain_text("Fall reported by device")
    expect(card).to_contain_text("Room 203")
    expect(card).to_contain_text("impact 3.1 g")
    expect(card.locator(".badge.severity")).to_have_text("High")
    # A new high alert sounds (through WebAudio) and keeps the alarm on until acknowledged.
    expect(page.locator("#board")).to_have_attribute("data-beeps", re.compile(r"^[1-9]"))
    expect(page.locator("#board")).to_have_attribute("data-alarm", "on")
    assert page.evaluate("window.sameDocument") is True
    # The page shows "open" until the caregiver's page is delivered, then "notified" live.
    expect(card).to_have_attribute("data-status", "notified")
    screenshot(page, "board")

    card.get_by_role("button", name="Acknowledge").click()
    expect(card).to_have_attribute("data-status", "acknowledged")
    expect(card).to_contain_text("acknowledged by cg1")
    expect(page.locator("#board")).to_have_attribute("data-alarm", "off")
    expect(card.get_by_role("button", name="Acknowledge")).to_be_hidden()
    acked = alert_of(api, rid)
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "cg1"

    card.get_by_role("button", name="Resolve…").click()
    card.locator("textarea").fill("sensor knocked against the bed rail")
    screenshot(page, "board-resolve")
    card.get_by_role("button", name="False alarm").click()
    expect(card).to_have_count(0)
    expect(page.locator("#no-alerts")).to_be_visible()
    resolved = alert_of(api, rid)
    assert resolved["outcome"] == "false_alarm"
    assert resolved["note"] == "sensor knocked against the bed rail"
    assert page.evaluate("window.sameDocument") is True


def test_the_board_orders_by_severity_then_age_and_fits_a_phone(
    open_page: Any, db: Conn, api: TestClient, nurse: str, alert_service: Running
) -> None:
    first = resident(db, "Wang Li", room="101", bed="1")
    second = resident(db, "Chen Mei", room="102", bed="1")
    third = resident(db, "Zhao Gang", room="103", bed="2")
    now = datetime.now(UTC)
    candidate(
        db,
        f"resident:{first}",
        rule_id="device.offline",
        severity="medium",
        ts=now,
        values={"device_id": "w-board-1", "device_kind": "bed_sensor"},
    )
    candidate(db, f"resident:{second}", rule_id="vital.spo2.low", severity="high", ts=now)
    wait_for(
        lambda: len(
            api.get("/api/v1/alerts", params={"site": SITE, "active": True}).json()["items"]
        ),
        until=lambda n: n == 2,
        what="two alerts",
    )
    page: Page = open_page(width=390, height=844)  # a phone
    log_in(page, nurse)
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("li.alert")).to_have_count(2)

    candidate(db, f"resident:{third}", rule_id="sos", severity="critical", title="SOS")
    expect(page.locator("li.alert")).to_have_count(3)
    names = page.locator("li.alert .who a").all_inner_texts()
    assert names == ["Zhao Gang", "Chen Mei", "Wang Li"], names
    severities = [page.locator("li.alert").nth(i).get_attribute("data-severity") for i in range(3)]
    assert severities == ["critical", "high", "medium"]
    # A device alert's card says which device.
    expect(page.locator("li.alert").nth(2)).to_contain_text("Device: Bed sensor w-board-1")
    expect(page.locator("#board")).to_have_attribute("data-alarm-level", "critical")
    # Nothing wider than the screen: no sideways scrolling on a phone.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px wider than the phone"
    screenshot(page, "board-phone")


def test_the_board_resumes_after_the_stream_drops_with_last_event_id(
    open_page: Any, nurse: str, ward: str
) -> None:
    """The stream and the list are faked here (the real ones are tested above): the stream ends
    after one event, and the board must reconnect saying which event it saw last."""
    now = datetime.now(UTC).isoformat()
    alert = {
        "alert_id": 990001, "incident_id": 990001, "rule_id": "sos", "subject": "unit:x",
        "resident_id": None, "site_id": SITE, "unit_id": UNIT, "title": "SOS",
        "severity": "critical", "status": "open", "opened_at": now, "first_ts": now,
        "last_ts": now, "count": 1, "values": {}, "suggestion": None,
        "condition_cleared": False, "escalation_step": 1, "acknowledged_at": None,
        "acknowledged_by": None, "acknowledged_via": None, "delivered_at": None,
        "outcome": None, "resolved_by": None, "resolved_at": None, "note": None,
    }  # fmt: skip
    seen: list[str | None] = []

    def stream(route: Route) -> None:
        seen.append(route.request.headers.get("last-event-id"))
        body = ": connected\n\n"
        if len(seen) == 1:
            # Escalated by the stream: the list (still "open") must not turn it back.
            event = {"event_id": 41, "kind": "escalated", "alert": {**alert, "status": "escalated"}}
            body += f"id: 41\r\nevent: alert\r\ndata: {json.dumps(event)}\r\n\r\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    def listing(route: Route) -> None:
        route.fulfill(json={"items": [alert], "limit": 500, "offset": 0})

    page: Page = open_page()
    page.route(re.compile(r".*/api/v1/alerts/stream$"), stream)
    page.route(re.compile(r".*/api/v1/alerts\?.*"), listing)
    with page.expect_request(
        lambda r: r.url.endswith("/api/v1/alerts/stream") and "last-event-id" in r.headers
    ) as resumed:
        log_in(page, nurse)
        card = page.locator("li.alert[data-alert-id='990001']")
        expect(card).to_have_attribute("data-status", "escalated")
    assert resumed.value.headers["last-event-id"] == "41"
    assert seen[0] is None
    expect(card).to_have_attribute("data-status", "escalated")


def test_the_event_stream_parser_handles_any_chunking_and_line_ending(open_page: Any) -> None:
    """The board's own reader of text/event-stream (fetch() has no EventSource): events split
    anywhere across chunks, CRLF / CR / LF, comments, multi-line data, ids that persist."""
    page: Page = open_page()
    page.goto("/login")
    stream = (
        ": connected\r\n\r\n"
        'id: 7\nevent: alert\ndata: {"a":\ndata: 1}\n\n'
        "event: alert\rdata: second\r\r"
        "data:no space\r\nretry: 2500\r\n\r\n"
        ": ping\n\n"
        "id: 8\ndata: last\n\n"
        "data: incomplete, never dispatched\n"
    )
    results = page.evaluate(
        """async (stream) => {
            const { EventStreamParser } = await import('/web/js/sse.js');
            const runs = [];
            for (const size of [1, 2, 3, 7, stream.length]) {
                const parser = new EventStreamParser();
                const events = [];
                for (let i = 0; i < stream.length; i += size) {
                    events.push(...parser.push(stream.slice(i, i + size)));
                }
                runs.push({ events, retry: parser.retry, last: parser.lastEventId });
            }
            return runs;
        }""",
        stream,
    )
    expected = [
        {"id": "7", "type": "alert", "data": '{"a":\n1}'},
        {"id": "7", "type": "alert", "data": "second"},
        {"id": "7", "type": "message", "data": "no space"},
        {"id": "8", "type": "message", "data": "last"},
    ]
    for run in results:
        assert run == {"events": expected, "retry": 2500, "last": "8"}
