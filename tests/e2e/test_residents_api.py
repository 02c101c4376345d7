"""Residents, their vitals and NEWS2, manual observations, the live alert feed, who is on duty,
readiness: through the real app and database, with roles and scopes."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, count, login_as, wait_for

RESIDENTS = "/api/v1/residents"


@pytest.fixture
def nurse(api: TestClient, ward: str) -> dict[str, str]:
    return login_as(api, "res-nurse", "nurse", site=SITE, units=(UNIT,), staff="res-nurse")


@pytest.fixture
def caregiver(api: TestClient, ward: str) -> dict[str, str]:
    return login_as(api, "res-cg", "caregiver", site=SITE, units=(UNIT,), staff="res-cg")


def admit(api: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"site_id": SITE, "unit_id": UNIT, "display_name": "Gao Lan", "room": "101", **fields}
    created = api.post(RESIDENTS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    data: dict[str, Any] = created.json()
    return data


def test_admit_read_update_and_list_within_scope(
    api: TestClient, db: Conn, nurse: dict[str, str], caregiver: dict[str, str]
) -> None:
    made = admit(api, nurse, conditions=["copd", "copd"], news2_scale=2, fall_risk=True)
    rid = made["resident_id"]
    assert made["conditions"] == ["copd"] and made["news2_scale"] == 2 and made["devices"] == []
    assert api.get(f"{RESIDENTS}/{rid}", headers=caregiver).json()["display_name"] == "Gao Lan"
    moved = api.patch(f"{RESIDENTS}/{rid}", json={"bed": "2", "fall_risk": False}, headers=nurse)
    assert moved.status_code == 200 and (moved.json()["bed"], moved.json()["fall_risk"]) == (
        "2",
        False,
    )
    listed = api.get(RESIDENTS, params={"unit": UNIT}, headers=caregiver).json()["items"]
    assert rid in {r["resident_id"] for r in listed}
    # Caregivers read but do not edit profiles.
    assert api.patch(f"{RESIDENTS}/{rid}", json={"bed": "3"}, headers=caregiver).status_code == 403
    actions = [
        r[0]
        for r in db.execute(
            "SELECT action FROM audit_log WHERE resident_id = %s ORDER BY audit_id", [rid]
        ).fetchall()
    ]
    # The refused edit is recorded too (docs/api.md, Audit).
    assert actions == ["resident.create", "resident.read", "resident.update", "access.refused"]


def test_validation_names_the_field(api: TestClient, nurse: dict[str, str]) -> None:
    for fields, field in (
        ({"news2_scale": 3}, "news2_scale"),
        ({"unit_id": "nope"}, "unit_id"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"rule_overrides": {"vitals": {"spo2": {"persist_s": -5}}}}, "rule_overrides"),
        ({"display_name": ""}, "display_name"),
    ):
        body = {"site_id": SITE, "unit_id": UNIT, "display_name": "X", **fields}
        refused = api.post(RESIDENTS, json=body)  # as the admin: every unit is in scope
        assert refused.status_code == 422, (fields, refused.text)
        assert refused.json()["detail"][0]["loc"][:2] == ["body", field], refused.text
    assert api.get(f"{RESIDENTS}/999999999", headers=nurse).status_code == 404
    assert api.get(RESIDENTS, headers={"Authorization": ""}).status_code == 401


def test_out_of_scope_is_403_everywhere(
    api: TestClient, db: Conn, caregiver: dict[str, str]
) -> None:
    db.execute("INSERT INTO units VALUES (%s, 'u9', 'Far unit') ON CONFLICT DO NOTHING", [SITE])
    db.commit()
    far = api.post(
        RESIDENTS, json={"site_id": SITE, "unit_id": "u9", "display_name": "Far Away"}
    ).json()["resident_id"]
    for method, path, body in (
        ("GET", f"{RESIDENTS}/{far}", None),
        ("PATCH", f"{RESIDENTS}/{far}", {"bed": "1"}),
        ("GET", f"{RESIDENTS}/{far}/latest", None),
        ("GET", f"{RESIDENTS}/{far}/news2", None),
        ("POST", f"{RESIDENTS}/{far}/observations", {"temp": 37.0}),
    ):
        answer = api.request(method, path, json=body, headers=caregiver)
        assert answer.status_code == 403, (method, path, answer.text)
    listed = api.get(RESIDENTS, headers=caregiver).json()["items"]
    assert far not in {r["resident_id"] for r in listed}
    integrator = login_as(api, "res-int", "integrator")
    assert api.get(RESIDENTS, headers=integrator).status_code == 403


def test_news2_applies_the_rule_overrides_the_detector_applies(
    api: TestClient, db: Conn, nurse: dict[str, str]
) -> None:
    """A resident whose heart rate counts for 30 s only (their override): a 1-minute-old
    reading is stale for their NEWS2, as it is for the detector's."""
    strict = admit(api, nurse, rule_overrides={"news2": {"max_age_s": {"hr": 30}}})
    default = admit(api, nurse)
    for rid in (strict["resident_id"], default["resident_id"]):
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (now() - interval '1 minute', %s, %s, 'hr', 118, 'vitals',"
            " now())",
            [f"w-{rid}", rid],
        )
    db.commit()
    scored = {
        rid: api.get(f"{RESIDENTS}/{rid}/news2", headers=nurse).json()
        for rid in (strict["resident_id"], default["resident_id"])
    }
    assert "hr" in scored[strict["resident_id"]]["missing"]
    assert "hr" not in scored[default["resident_id"]]["missing"]


def test_news2_from_wearable_and_manual_readings(
    api: TestClient, db: Conn, nurse: dict[str, str]
) -> None:
    rid = admit(api, nurse)["resident_id"]
    now = datetime.now(UTC)
    for metric, value in (("hr", 118), ("rr", 23), ("spo2", 93), ("on_o2", 0)):
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, 'vitals', now())",
            [now - timedelta(minutes=1), f"w-{rid}", rid, metric, value],
        )
    db.commit()
    partial = api.get(f"{RESIDENTS}/{rid}/news2", headers=nurse).json()
    assert partial["complete"] is False and partial["total"] is None
    assert set(partial["missing"]) == {"sbp", "acvpu", "temp"}

    observed = api.post(
        f"{RESIDENTS}/{rid}/observations",
        json={"acvpu": "A", "sbp": 104, "temp": 38.4},
        headers=nurse,
    )
    assert observed.status_code == 201, observed.text
    assert observed.json()["acvpu"]["value"] == 0 and observed.json()["sbp"]["source"] == "manual"
    news2 = api.get(f"{RESIDENTS}/{rid}/news2", headers=nurse).json()
    # hr 118 → 2, rr 23 → 2, spo2 93 → 2 (scale 1), sbp 104 → 1, temp 38.4 → 1, A → 0.
    assert (news2["complete"], news2["total"], news2["band"]) == (True, 8, "high")
    parts = {p["parameter"]: (p["score"], p["source"]) for p in news2["parts"]}
    assert parts["sbp"] == (1, "manual") and parts["hr"] == (2, "vitals")
    latest = api.get(f"{RESIDENTS}/{rid}/latest", headers=nurse).json()
    assert latest["temp"]["value"] == 38.4

    for body, field in (({}, None), ({"temp": 50}, "temp"), ({"acvpu": "Z"}, "acvpu")):
        refused = api.post(f"{RESIDENTS}/{rid}/observations", json=body, headers=nurse)
        assert refused.status_code == 422, body
        if field:
            assert refused.json()["detail"][0]["loc"][:2] == ["body", field]
    for when in (now + timedelta(hours=1), now - timedelta(days=8), datetime(1, 1, 2, tzinfo=UTC)):
        refused = api.post(
            f"{RESIDENTS}/{rid}/observations",
            json={"temp": 37, "ts": when.isoformat()},
            headers=nurse,
        )
        assert refused.status_code == 422, when
        assert refused.json()["detail"][0]["loc"] == ["body", "ts"]
    # Administrators run the deployment; they do not chart observations.
    assert api.post(f"{RESIDENTS}/{rid}/observations", json={"temp": 37}).status_code == 403


def manual_cursor(db: Conn) -> int:
    row = db.execute(
        "SELECT doc FROM detector_snapshots WHERE subject = 'cursor:manual'"
    ).fetchone()
    db.commit()
    return -1 if row is None else int(row[0])


def test_a_manual_observation_reaches_the_detector(
    api: TestClient, db: Conn, nurse: dict[str, str], detector: ServiceProcess
) -> None:
    rid = admit(api, nurse, display_name="Observed")["resident_id"]
    answer = api.post(f"{RESIDENTS}/{rid}/observations", json={"acvpu": "V"}, headers=nurse)
    assert answer.status_code == 201
    newest = count(db, "SELECT max(id) FROM manual_observations")
    # The detector commits its position in the feed with the rule state it fed.
    wait_for(lambda: manual_cursor(db), until=lambda at: at >= newest, what="taken in")


def test_on_duty_and_readiness(
    api: TestClient,
    db: Conn,
    caregiver: dict[str, str],
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))
    on_duty = api.get(
        "/api/v1/care-team/on-duty", params={"site": SITE, "unit": UNIT}, headers=caregiver
    )
    assert on_duty.status_code == 200
    roles = {p["id"]: p["role"] for p in on_duty.json()}
    assert roles["cg1"] == "caregiver" and roles["cn1"] == "charge_nurse"
    assert (
        api.get(
            "/api/v1/care-team/on-duty", params={"site": "elsewhere"}, headers=caregiver
        ).status_code
        == 403
    )
    ready = api.get("/readyz", headers={"Authorization": ""})
    assert ready.status_code == 200 and ready.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
    }


class Feed:
    """Reads the SSE stream of a live server in a thread, collecting parsed events."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self.connected = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                event: dict[str, Any] = {}
                for line in response.iter_lines():
                    if line == ": connected":
                        self.connected.set()
                    elif line.startswith("id: "):
                        event["id"] = int(line[4:])
                    elif line.startswith("data: "):
                        event["data"] = json.loads(line[6:])
                    elif not line and "data" in event:
                        with self.changed:
                            self.events.append(event)
                            self.changed.notify_all()
                        event = {}
        except httpx.HTTPError:
            pass  # closed by the test

    def wait(self, predicate: Any, timeout: float = 15) -> list[dict[str, Any]]:
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self.events), timeout), self.events
            return list(self.events)

    def close(self) -> None:
        self._client.close()


def test_the_live_feed_pushes_changes_in_scope_and_resumes(
    api: TestClient,
    db: Conn,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    live_api: str,
    caregiver: dict[str, str],
) -> None:
    store(db, team(http, smtp))
    db.execute("INSERT INTO units VALUES (%s, 'u8', 'Other') ON CONFLICT DO NOTHING", [SITE])
    db.commit()
    mine = resident(db, "Feed Mine")
    other = api.post(
        RESIDENTS, json={"site_id": SITE, "unit_id": "u8", "display_name": "Feed Other"}
    ).json()["resident_id"]
    run_service(settings)
    feed = Feed(f"{live_api}/api/v1/alerts/stream", caregiver)
    try:
        assert feed.connected.wait(15), "the stream did not open"
        candidate(db, f"resident:{other}")  # outside the caregiver's unit: never shown
        candidate(db, f"resident:{mine}")
        events = feed.wait(lambda evs: any(e["data"]["alert"]["status"] == "notified" for e in evs))
        assert {e["data"]["alert"]["resident_id"] for e in events} == {mine}
        kinds = [e["data"]["kind"] for e in events]
        assert kinds[0] == "CreatedEvent" and "DeliveredEvent" in kinds
        last_id = max(e["id"] for e in events if "id" in e)
    finally:
        feed.close()
    # While disconnected the alert is acknowledged; a reconnect with Last-Event-ID gets it.
    alert_id = events[0]["data"]["alert"]["alert_id"]
    assert api.post(f"/api/v1/alerts/{alert_id}/ack").status_code == 200
    again = Feed(f"{live_api}/api/v1/alerts/stream", {**caregiver, "Last-Event-ID": str(last_id)})
    try:
        resumed = again.wait(
            lambda evs: any(e["data"]["alert"]["status"] == "acknowledged" for e in evs)
        )
        assert all(e["data"]["event_id"] > last_id for e in resumed)
    finally:
        again.close()
    assert httpx.get(f"{live_api}/api/v1/alerts/stream", timeout=5).status_code == 401
