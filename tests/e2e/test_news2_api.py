"""NEWS2 through the real app and database (issue 12): unknown oxygen is missing, an incomplete
score shows the band it proves, and observations fall due with the risk (RCP 2017), for one
resident (`/residents/{id}/news2`) and for the board (`/news2`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.settings import Settings
from tests.e2e.alerting import Running, candidate, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, count, login_as, wait_for

pytestmark = pytest.mark.services

RESIDENTS = "/api/v1/residents"


@pytest.fixture
def nurse(api: TestClient, ward: str) -> dict[str, str]:
    return login_as(api, "n2-nurse", "nurse", site=SITE, units=(UNIT,), staff="n2-nurse")


def admit(api: TestClient, headers: dict[str, str], **fields: Any) -> int:
    body = {"site_id": SITE, "unit_id": UNIT, "display_name": "Zhou Min", **fields}
    created = api.post(RESIDENTS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    rid: int = created.json()["resident_id"]
    return rid


def wearable(db: Conn, rid: int, **values: float) -> None:
    """Device readings a minute old."""
    at = datetime.now(UTC) - timedelta(minutes=1)
    for metric, value in values.items():
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, 'vitals', now())",
            [at, f"n2-w-{rid}", rid, metric, value],
        )
    db.commit()


def round_ago(
    api: TestClient, headers: dict[str, str], rid: int, minutes: float, **values: Any
) -> None:
    """A round's observations, charted `minutes` ago."""
    ts = (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()
    answer = api.post(f"{RESIDENTS}/{rid}/observations", json={**values, "ts": ts}, headers=headers)
    assert answer.status_code == 201, answer.text


def news2(api: TestClient, headers: dict[str, str], rid: int) -> dict[str, Any]:
    answer = api.get(f"{RESIDENTS}/{rid}/news2", headers=headers)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_stale_oxygen_is_missing_not_air(api: TestClient, db: Conn, nurse: dict[str, str]) -> None:
    rid = admit(api, nurse, news2_scale=2)
    wearable(db, rid, spo2=95, rr=16, hr=91)  # on oxygen: 2 + 0 + 1; on air: 0 + 0 + 1
    round_ago(api, nurse, rid, 13 * 60, on_o2=True)
    round_ago(api, nurse, rid, 10, acvpu="A", sbp=120, temp=37.0)
    scored = news2(api, nurse, rid)
    assert (scored["complete"], scored["total"], scored["band"]) == (False, None, None)
    assert scored["missing"] == ["on_o2"]
    assert "on_o2" not in {p["parameter"] for p in scored["parts"]}
    assert scored["observations"]["status"] == "overdue"
    assert scored["observations"]["parameters"] == ["on_o2"]


def test_an_incomplete_score_shows_the_band_it_proves(
    api: TestClient, db: Conn, nurse: dict[str, str]
) -> None:
    # Wearables cannot tell consciousness: 3 + 3 + 3 + 2 + 2 = 13 without it.
    high = admit(api, nurse)
    wearable(db, high, rr=25, spo2=91, hr=131, temp=39.1, sbp=100, on_o2=0)
    scored = news2(api, nurse, high)
    assert (scored["complete"], scored["band"], scored["partial_total"]) == (False, None, 13)
    assert scored["proven_band"] == "high" and scored["missing"] == ["acvpu"]
    assert scored["proven_total"] == 13
    # A single 3 already asks for an urgent ward review.
    single = admit(api, nurse)
    wearable(db, single, rr=16, spo2=91, hr=70, temp=37.0, sbp=120, on_o2=0)
    assert news2(api, nurse, single)["proven_band"] == "low_medium"
    # 2 proves nothing above low: no band, and it does not say "low" either.
    unproven = admit(api, nurse)
    wearable(db, unproven, rr=16, spo2=97, hr=111, temp=37.0, sbp=120, on_o2=0)
    assert news2(api, nurse, unproven)["proven_band"] is None
    round_ago(api, nurse, unproven, 1, acvpu="A")
    complete = news2(api, nurse, unproven)
    assert (complete["total"], complete["band"], complete["proven_band"]) == (2, "low", "low")


def test_observations_fall_due_with_the_risk(
    api: TestClient, db: Conn, nurse: dict[str, str]
) -> None:
    # NEWS2 5 on the wearable alone (SpO2 91 → 3, RR 21 → 2): hourly observations.
    medium = admit(api, nurse)
    wearable(db, medium, spo2=91, rr=21, hr=70, temp=37.0)
    round_ago(api, nurse, medium, 65, acvpu="A", sbp=120, on_o2=False)
    due = news2(api, nurse, medium)
    assert due["complete"] and due["band"] == "medium"
    assert due["observations"]["level"] == "medium"
    assert due["observations"]["every_s"] == 3600
    assert due["observations"]["status"] == "due"
    assert due["observations"]["parameters"] == ["on_o2", "sbp", "acvpu"]
    # Past the hour's quarter-hour grace the round no longer counts: overdue, incomplete,
    # and still shown as the medium risk it was proven to be.
    overdue = admit(api, nurse)
    wearable(db, overdue, spo2=91, rr=21, hr=70, temp=37.0)
    round_ago(api, nurse, overdue, 80, acvpu="A", sbp=120, on_o2=False)
    late = news2(api, nurse, overdue)
    assert (late["complete"], late["proven_band"], late["proven_total"]) == (False, "medium", 5)
    assert late["missing"] == ["on_o2", "sbp", "acvpu"]
    assert late["observations"]["status"] == "overdue"
    # The same round at no risk is good for hours yet.
    calm = admit(api, nurse)
    wearable(db, calm, spo2=97, rr=16, hr=70, temp=37.0)
    round_ago(api, nurse, calm, 80, acvpu="A", sbp=120, on_o2=False)
    ok = news2(api, nurse, calm)
    assert (ok["complete"], ok["total"], ok["observations"]["status"]) == (True, 0, "ok")
    due_at = datetime.fromisoformat(ok["observations"]["due_at"])
    # SBP counts 8 h (its own window, shorter than 12-hourly), due a quarter hour before.
    expected = datetime.now(UTC) - timedelta(minutes=80) + timedelta(hours=8, minutes=-15)
    assert abs((due_at - expected).total_seconds()) < 120


def test_the_board_reads_every_resident_in_scope(
    api: TestClient, db: Conn, nurse: dict[str, str]
) -> None:
    high = admit(api, nurse, display_name="Board High")
    wearable(db, high, rr=25, spo2=91, hr=131, temp=39.1, sbp=100, on_o2=0)
    db.execute("INSERT INTO units VALUES (%s, 'n2-far', 'Far') ON CONFLICT DO NOTHING", [SITE])
    db.commit()
    far = api.post(
        RESIDENTS, json={"site_id": SITE, "unit_id": "n2-far", "display_name": "Far"}
    ).json()["resident_id"]
    answer = api.get("/api/v1/news2", params={"site": SITE, "limit": 500}, headers=nurse)
    assert answer.status_code == 200, answer.text
    items = {item["resident_id"]: item for item in answer.json()["items"]}
    assert far not in items  # outside the nurse's unit
    mine = items[high]
    assert (mine["complete"], mine["proven_band"], mine["partial_total"]) == (False, "high", 13)
    assert mine["observations"]["status"] == "overdue" and mine["missing"] == ["acvpu"]
    # The same answer as the resident's own endpoint.
    one = news2(api, nurse, high)
    for key in ("complete", "total", "partial_total", "band", "proven_band", "missing"):
        assert mine[key] == one[key], key
    integrator = login_as(api, "n2-int", "integrator")
    assert api.get("/api/v1/news2", headers=integrator).status_code == 403
    audited = db.execute("SELECT count(*) FROM audit_log WHERE action = 'news2.list'").fetchone()
    db.commit()
    assert audited is not None and audited[0] >= 1


def test_an_open_alert_holds_the_observation_interval_as_in_the_detector(
    api: TestClient,
    db: Conn,
    nurse: dict[str, str],
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    # NEWS2 3 (RR 21 → 2, HR 91 → 1): six-hourly, so a 2-hour-old round counts...
    rid = admit(api, nurse)
    wearable(db, rid, spo2=97, rr=21, hr=91, temp=37.0)
    round_ago(api, nurse, rid, 120, acvpu="A", sbp=120, on_o2=False)
    calm = news2(api, nurse, rid)
    assert (calm["complete"], calm["total"], calm["observations"]["status"]) == (True, 3, "ok")
    # ... but not while the medium alert it came down from is open: hourly until a round.
    store(db, team(http, smtp))
    run_service(settings)
    candidate(
        db,
        f"resident:{rid}",
        rule_id="news2",
        title="NEWS2 5: medium clinical risk",
        values={"total": 5, "band": "medium", "scale": 1},
    )
    wait_for(
        lambda: count(db, "SELECT count(*) FROM alerts WHERE resident_id = %s", rid),
        until=lambda n: n == 1,
        what="the alert",
    )
    held = news2(api, nurse, rid)
    assert (held["complete"], held["proven_band"]) == (False, None)
    assert held["observations"]["level"] == "medium"
    assert held["observations"]["status"] == "overdue"
    listed = api.get("/api/v1/news2", params={"limit": 500}, headers=nurse).json()["items"]
    (mine,) = [n for n in listed if n["resident_id"] == rid]
    assert mine["observations"]["status"] == "overdue"
