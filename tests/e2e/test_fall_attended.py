"""Issue 12, item 2: a fall staff have attended does not page again as a long lie. Staff
acting on an alert reach the detector's rules (through `staff_attendance`), so a caregiver
resolving "helped up, no injury", or acknowledging the page, ends the fall's long-lie
timer. Through the real broker, detector, alert service, API and a real receiver."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, Device, candidates, wait_for

LONG_LIE_S = 30.0  # long enough for the page and the resolution on a loaded machine
FAST_FALLS = {"fall": {"cancel_window_s": 1, "long_lie_s": LONG_LIE_S}}


def fall_resident(db: Conn, name: str) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, rule_overrides)"
        " VALUES (%s, %s, %s, %s) RETURNING resident_id",
        [SITE, UNIT, name, Jsonb(FAST_FALLS)],
    ).fetchone()
    assert row is not None
    # Named in pages (the team's `details: full`) with their consent to third-party messaging.
    db.execute(
        "INSERT INTO resident_consents (resident_id, kind, granted, recorded_by)"
        " VALUES (%s, 'third_party_messaging', true, 'test')",
        [row[0]],
    )
    return int(row[0])


def open_alert(api: TestClient, resident_id: int) -> int:
    items = api.get("/api/v1/alerts", params={"resident": resident_id}).json()["items"]
    assert len(items) == 1, items
    return int(items[0]["alert_id"])


@pytest.mark.parametrize("action", ["resolve", "ack"])
def test_a_fall_staff_attended_does_not_page_again_as_a_long_lie(
    action: str,
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    detector: ServiceProcess,
    make_device: Callable[..., Device],
) -> None:
    store(db, team(http, smtp))
    helped = fall_resident(db, "Ma Lan")  # a caregiver helps her up
    alone = fall_resident(db, "Sun Qiang")  # nobody comes: the control
    devices = {rid: make_device(resident_id=rid) for rid in (helped, alone)}
    run_service(settings)

    # Both fall at the same instant: both long lies fall due in the same detector tick.
    impact = time.time()
    for device in devices.values():
        device.publish(
            f"carewatch/v1/{SITE}/{device.device_id}/event",
            {"ts": int(impact * 1000), "type": "fall", "confidence": 0.9},
        )
    http.wait(2, timeout=20, what="both fall pages")
    alert_id = open_alert(api, helped)
    if action == "resolve":
        body = {"outcome": "actionable", "note": "helped up, no injury"}
        done = api.post(f"/api/v1/alerts/{alert_id}/resolve", json=body)
    else:
        done = api.post(f"/api/v1/alerts/{alert_id}/ack")
    assert done.status_code == 200, done.text
    assert time.time() < impact + LONG_LIE_S - 8, "too slow for the long lie to mean anything"
    notice = "Resolved" if action == "resolve" else "Acknowledged"
    http.wait_until(
        lambda items: any(
            r.path == "/cg1" and r.title.startswith(notice) and "Ma Lan" in r.title for r in items
        ),
        timeout=20,
        what=f"the {notice.lower()} notice to the caregiver",
    )
    pages_before = len(http.for_path("cg1"))

    # The unattended fall escalates; the same tick judged the attended one.
    wait_for(
        lambda: candidates(db, alone),
        until=lambda c: ("fall.long_lie", "update") in c,
        timeout=LONG_LIE_S + 30,
        what="the unattended fall's long lie",
    )
    assert candidates(db, helped) == [("fall.device", "raise")]
    rows = db.execute(
        "SELECT rule_id, outcome, severity FROM alerts WHERE resident_id = %s", [helped]
    ).fetchall()
    outcome = "actionable" if action == "resolve" else None
    assert rows == [("fall.device", outcome, "high")]  # neither a new alert nor escalated
    later = [p for p in http.for_path("cg1")[pages_before:] if "Ma Lan" in p.title]
    assert later == [], later
