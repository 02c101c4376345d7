"""Issue 12, item 1: several updates of one alert computed in one detector batch are all
kept. A round entering temperature, heart rate and new confusion together takes NEWS2 from
3 to 8 in one tick; every update of that tick shares the processing time as `ts`, and keying
candidates on it kept the first (NEWS2 4) and dropped the escalation. Through the API, the
detector, the alert service and a real receiver."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, login_as, wait_for

# No persistence: each band is alerted on the score that reaches it (the test is about what
# the detector writes, not about how long a band must hold).
AT_ONCE = {"news2": {"raise_after_s": {"low_medium": 0, "medium": 0, "high": 0}}}


def news2_alert(db: Conn, resident_id: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT title, severity, \"values\"->>'total', \"values\"->>'band', suggestion"
        " FROM alerts WHERE resident_id = %s AND rule_id = 'news2'",
        [resident_id],
    ).fetchall()


def test_an_escalation_entered_in_one_round_reaches_the_alert_and_suggests_a_referral(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    detector: ServiceProcess,
) -> None:
    document = team(http, smtp)
    document["hospitals"] = [
        {"id": "h1", "name": "County Hospital", "sites": [SITE], "channels": [http.url("h1")]}
    ]
    store(db, document)
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, rule_overrides)"
        " VALUES (%s, %s, 'Gao Min', %s) RETURNING resident_id",
        [SITE, UNIT, Jsonb(AT_ONCE)],
    ).fetchone()
    assert row is not None
    rid = int(row[0])
    nurse = login_as(api, "esc-nurse", "nurse", site=SITE, units=(UNIT,), staff="esc-nurse")
    run_service(settings)

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

    # One round: temp 38.5 (+1), HR 95 (+1), new confusion (+3): NEWS2 8, high.
    round2 = {"temp": 38.5, "hr": 95, "acvpu": "C"}
    posted = api.post(f"/api/v1/residents/{rid}/observations", json=round2, headers=nurse)
    assert posted.status_code == 201, posted.text
    news2 = api.get(f"/api/v1/residents/{rid}/news2", headers=nurse).json()
    assert (news2["total"], news2["band"]) == (8, "high")

    alert = wait_for(
        lambda: news2_alert(db, rid),
        until=lambda rows: len(rows) == 1 and rows[0][2] == "8",
        timeout=20,
        what="the alert at NEWS2 8",
    )
    title, severity, _, band, suggestion = alert[0]
    assert (severity, band, suggestion) == ("critical", "high", "referral"), alert
    assert title.startswith("NEWS2 8"), title
    # The detector wrote every update of that round, in order (the first round's own come
    # before: raised on the partial score its first values proved).
    totals = [
        int(r[0])
        for r in db.execute(
            "SELECT \"values\"->>'total' FROM alert_candidates WHERE subject = %s AND"
            " rule_id = 'news2' ORDER BY id",
            [f"resident:{rid}"],
        ).fetchall()
    ]
    assert totals[-3:] == [4, 5, 8], totals
    wait_for(
        lambda: db.execute("SELECT state FROM referrals WHERE resident_id = %s", [rid]).fetchall(),
        until=lambda rows: rows == [("suggested",)],
        timeout=20,
        what="the referral suggestion NEWS2 >= 7 makes",
    )
