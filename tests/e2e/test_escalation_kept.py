"""Issue 12, item 1: several updates of one alert computed in one detector batch are all
kept. A round entering temperature, heart rate and new confusion together takes NEWS2 from
3 to 8 in one tick; every update of that tick shares the processing time as `ts`, and keying
candidates on it kept the first (NEWS2 4) and dropped the escalation. Through the API, the
detector, the alert service and a real receiver."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, Device, login_as, wait_for

# No persistence: each band is alerted on the score that reaches it (the test is about what
# the detector writes, not about how long a band must hold).
AT_ONCE = {"news2": {"raise_after_s": {"low_medium": 0, "medium": 0, "high": 0}}}


def news2_alert(db: Conn, resident_id: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT title, severity, \"values\"->>'total', \"values\"->>'band', suggestion"
        " FROM alerts WHERE resident_id = %s AND rule_id = 'news2'",
        [resident_id],
    ).fetchall()


def news2_totals(db: Conn, resident_id: int) -> list[int]:
    """The totals of the detector's NEWS2 candidates about the resident, in order."""
    rows = db.execute(
        "SELECT \"values\"->>'total' FROM alert_candidates WHERE subject = %s AND"
        " rule_id = 'news2' ORDER BY id",
        [f"resident:{resident_id}"],
    ).fetchall()
    return [int(r[0]) for r in rows]


def at_news2_3(
    db: Conn, api: TestClient, http: HttpReceiver, smtp: SmtpReceiver, name: str
) -> tuple[int, dict[str, str]]:
    """A resident with an open, paged NEWS2 3 (low-medium) alert; with a nurse's headers."""
    document = team(http, smtp)
    document["hospitals"] = [
        {"id": "h1", "name": "County Hospital", "sites": [SITE], "channels": [http.url("h1")]}
    ]
    store(db, document)
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, rule_overrides)"
        " VALUES (%s, %s, %s, %s) RETURNING resident_id",
        [SITE, UNIT, name, Jsonb(AT_ONCE)],
    ).fetchone()
    assert row is not None
    rid = int(row[0])
    nurse = login_as(api, "esc-nurse", "nurse", site=SITE, units=(UNIT,), staff="esc-nurse")
    # A full set: respiration 8 scores a single 3 (low-medium), everything else 0.
    first = {"rr": 8, "spo2": 97, "on_o2": False, "sbp": 120, "hr": 80, "acvpu": "A", "temp": 37}
    posted = api.post(f"/api/v1/residents/{rid}/observations", json=first, headers=nurse)
    assert posted.status_code == 201, posted.text
    page = http.wait(1, timeout=20, what="the NEWS2 page")[0]
    assert "NEWS2" in page.title and "3: low-medium" in page.title, page.title
    wait_for(
        lambda: news2_alert(db, rid),
        until=lambda rows: len(rows) == 1 and rows[0][2] == "3",
        timeout=20,
        what="the alert at NEWS2 3",
    )
    return rid, nurse


def escalated_to_8(db: Conn, resident_id: int) -> None:
    """The alert shows NEWS2 8, high, and the referral suggestion NEWS2 >= 7 makes exists."""
    alert = wait_for(
        lambda: news2_alert(db, resident_id),
        until=lambda rows: len(rows) == 1 and rows[0][2] == "8",
        timeout=20,
        what="the alert at NEWS2 8",
    )
    title, severity, _, band, suggestion = alert[0]
    assert (severity, band, suggestion) == ("critical", "high", "referral"), alert
    assert title.startswith("NEWS2 8"), title
    wait_for(
        lambda: db.execute(
            "SELECT state FROM referrals WHERE resident_id = %s", [resident_id]
        ).fetchall(),
        until=lambda rows: rows == [("suggested",)],
        # Checked against the stored readings, retried every 5 s while ingest catches up.
        timeout=60,
        what="the referral suggestion NEWS2 >= 7 makes",
    )


def test_an_escalation_entered_in_one_round_reaches_the_alert_and_suggests_a_referral(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    detector: ServiceProcess,
) -> None:
    run_service(settings)
    rid, nurse = at_news2_3(db, api, http, smtp, "Gao Min")
    # One round: temp 38.5 (+1), HR 95 (+1), new confusion (+3): NEWS2 8, high.
    round2 = {"temp": 38.5, "hr": 95, "acvpu": "C"}
    posted = api.post(f"/api/v1/residents/{rid}/observations", json=round2, headers=nurse)
    assert posted.status_code == 201, posted.text
    news2 = api.get(f"/api/v1/residents/{rid}/news2", headers=nurse).json()
    assert (news2["total"], news2["band"]) == (8, "high")
    escalated_to_8(db, rid)
    # Every update of that round was written, in order (the first round's own come before:
    # raised on the partial score its first values proved).
    assert news2_totals(db, rid)[-3:] == [4, 5, 8]


def test_an_escalation_in_one_device_message_reaches_the_alert(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    detector: ServiceProcess,
    make_device: Callable[..., Device],
    ingest_worker: ServiceProcess,  # the referral is checked against the stored readings
) -> None:
    run_service(settings)
    rid, _ = at_news2_3(db, api, http, smtp, "Qian Hui")
    device = make_device(resident_id=rid)
    # One message, three readings, each re-scoring NEWS2 in the same batch: HR 95 (+1: 4),
    # SpO2 91 (+3: 7, high), temperature 38.5 (+1: 8).
    device.publish(
        f"carewatch/v1/{SITE}/{device.device_id}/vitals",
        {"ts": int(time.time() * 1000), "hr": 95, "spo2": 91, "temp": 38.5},
    )
    escalated_to_8(db, rid)
    assert news2_totals(db, rid)[-3:] == [4, 7, 8]
