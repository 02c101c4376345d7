"""The referrals API through the real app and database: open by hand, the green channel from
request to return with its audit trail and outbox messages, refusals, the FHIR export."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

from services.referrals import store
from services.referrals.model import TRANSITIONS
from tests.services.referrals.test_store import (
    CAREGIVER,
    HOSPITAL_ID,
    HOSPITAL_URL,
    channel,
    configure_referral_ward,
    deteriorating,
    last_notification,
    new_resident,
    notifications,
)
from tests.support import Conn, count, fresh_national_id, login_as

pytestmark = pytest.mark.services

REFERRALS = "/api/v1/referrals"
LOINC = "http://loinc.org"
# Who acts: logged-in users (their bearer-token headers), filled in by `ref_ward`.
NURSE: dict[str, str] = {}
CARE_GIVER: dict[str, str] = {}
DOCTOR: dict[str, str] = {}  # the partner hospital's physician
HIS: dict[str, str] = {}  # the partner hospital's own system


@pytest.fixture(scope="module")
def ref_ward(db_url: str, api: TestClient) -> str:
    site = configure_referral_ward(db_url)
    NURSE.update(login_as(api, "ref-nurse", "nurse", site=site, staff="ref-nurse"))
    CARE_GIVER.update(login_as(api, "ref-cg", "caregiver", site=site, staff=CAREGIVER.staff_id))
    DOCTOR.update(login_as(api, "h-doc", "physician", hospital=HOSPITAL_ID, staff="h-doc"))
    HIS.update(login_as(api, "his", "integrator", hospital=HOSPITAL_ID, staff="his"))
    return site


@pytest.fixture
def resident(db: Conn, ref_ward: str) -> int:
    rid = new_resident(db)
    deteriorating(db, rid, datetime.now(UTC))
    return rid


def open_one(api: TestClient, resident_id: int, **fields: Any) -> dict[str, Any]:
    body = {"resident_id": resident_id, "reason": "NEWS2 8 on the evening round"}
    response = api.post(REFERRALS, json={**body, **fields}, headers=NURSE)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def step(api: TestClient, referral_id: int, to: str, actor: dict[str, str], note: str = "") -> Any:
    return api.post(
        f"{REFERRALS}/{referral_id}/transition", json={"to": to, "note": note}, headers=actor
    )


def test_staff_open_a_referral_with_its_snapshot(api: TestClient, db: Conn, resident: int) -> None:
    before = last_notification(db)
    created = open_one(api, resident, note="family informed")
    rid = created["id"]
    assert created["state"] == "requested"
    assert created["allowed_next"] == ["accepted", "declined", "cancelled"]
    assert created["trigger"] == "staff"
    assert created["hospital"] == {
        "id": HOSPITAL_ID,
        "name": "Partner Hospital",
        "kind": "general_hospital",
    }
    assert created["kind"] == "emergency"
    assert created["requester"] == {"id": "ref-nurse", "role": "nurse", "side": "care"}
    assert created["snapshot"]["news2"]["total"] == 8
    assert created["snapshot"]["patient"]["name"] == "王秀英"
    assert {v["metric"] for v in created["snapshot"]["vitals"]} == {
        "hr", "spo2", "rr", "temp", "sbp", "dbp", "on_o2", "acvpu",
    }  # fmt: skip
    assert [h["action"] for h in created["history"]] == ["referral.opened"]
    assert created["history"][0]["note"] == "family informed"
    # The hospital and the unit hear at once.
    told = notifications(db, rid, before)
    assert set(told) == {HOSPITAL_ID, "ref-cg", "ref-nurse"}
    assert told[HOSPITAL_ID][1] == [HOSPITAL_URL]
    assert api.get(f"{REFERRALS}/{rid}", headers=NURSE).json() == created
    # The admin reads it too, and may take no clinical step.
    assert api.get(f"{REFERRALS}/{rid}").json()["actions"] == []

    listed = api.get(REFERRALS, params={"resident": resident}).json()
    assert listed["total"] == 1 and [r["id"] for r in listed["items"]] == [rid]
    assert "snapshot" not in listed["items"][0]
    page = api.get(REFERRALS, params={"state": "requested", "site": "ref-site", "limit": 1})
    assert page.status_code == 200 and page.json()["items"][0]["id"] >= rid
    assert page.json()["limit"] == 1 and page.json()["total"] >= 1
    empty = api.get(REFERRALS, params={"resident": resident, "offset": 1}).json()
    assert empty["items"] == [] and empty["total"] == 1


def test_the_green_channel_from_request_to_return(api: TestClient, db: Conn, resident: int) -> None:
    rid = open_one(api, resident)["id"]
    path: list[tuple[str, dict[str, str], str, set[str]]] = [
        # to, who, note, who hears
        ("accepted", DOCTOR, "bed 12, cardiology", {"ref-nurse", "ref-cg"}),
        ("in_transit", CARE_GIVER, "", {HOSPITAL_ID}),
        ("admitted", HIS, "", {"ref-nurse", "ref-cg"}),
        ("returned", NURSE, "for rehabilitation", {"ref-cg", "ref-nurse", "ref-doc"}),
    ]
    for to, actor, note, hear in path:
        before = last_notification(db)
        response = step(api, rid, to, actor, note)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == to
        told = notifications(db, rid, before)
        assert set(told) == hear, to
        for recipient, (title, channels) in told.items():
            assert f"Referral #{rid}" in title
            assert channels == [HOSPITAL_URL if recipient == HOSPITAL_ID else channel(recipient)]

    rows = db.execute(
        "SELECT action, from_state, to_state, staff_id, role, side, note"
        " FROM referral_transitions WHERE referral_id = %s ORDER BY transition_id",
        [rid],
    ).fetchall()
    assert rows == [
        ("referral.opened", None, "requested", "ref-nurse", "nurse", "care", ""),
        ("referral.transition", "requested", "accepted", "h-doc", "physician", "hospital",
         "bed 12, cardiology"),
        ("referral.transition", "accepted", "in_transit", "ref-cg", "caregiver", "care", ""),
        ("referral.transition", "in_transit", "admitted", "his", "integrator", "hospital", ""),
        ("referral.transition", "admitted", "returned", "ref-nurse", "nurse", "care",
         "for rehabilitation"),
    ]  # fmt: skip
    final = api.get(f"{REFERRALS}/{rid}").json()
    assert final["state"] == "returned" and final["allowed_next"] == []
    assert final["sla_due_at"] is None
    assert [h["to_state"] for h in final["history"]] == [
        "requested", "accepted", "in_transit", "admitted", "returned",
    ]  # fmt: skip
    # Returned is final: a new referral may be opened for the resident.
    assert open_one(api, resident)["id"] > rid


def test_each_caller_is_offered_only_its_own_steps(api: TestClient, resident: int) -> None:
    """`actions`: the steps of `allowed_next` the caller's side and role may take."""
    rid = open_one(api, resident)["id"]

    def actions(who: dict[str, str]) -> list[str]:
        one = api.get(f"{REFERRALS}/{rid}", headers=who).json()
        listed = [r for r in api.get(REFERRALS, headers=who).json()["items"] if r["id"] == rid]
        assert [r["actions"] for r in listed] == [one["actions"]]
        assert one["allowed_next"] == list(TRANSITIONS[one["state"]])
        assert one["timezone"] == "Asia/Shanghai"
        return list(one["actions"])

    # requested: the hospital answers, the home may only withdraw.
    assert actions(NURSE) == ["cancelled"]
    assert actions(CARE_GIVER) == []
    assert actions(DOCTOR) == ["accepted", "declined"]
    assert actions(HIS) == ["accepted", "declined"]
    answered = step(api, rid, "accepted", DOCTOR, "bed 12")
    assert answered.json()["actions"] == []  # the answer is the caller's own view
    # accepted: the home sends the resident off (a caregiver too) or cancels.
    assert actions(NURSE) == ["in_transit", "cancelled"]
    assert actions(CARE_GIVER) == ["in_transit"]
    assert actions(DOCTOR) == []
    step(api, rid, "in_transit", CARE_GIVER)
    assert actions(DOCTOR) == ["admitted"]
    assert actions(NURSE) == ["cancelled"]
    step(api, rid, "admitted", DOCTOR)
    assert actions(DOCTOR) == []
    assert actions(CARE_GIVER) == ["returned"]


def test_partner_hospitals_for_the_callers_sites(api: TestClient, ref_ward: str) -> None:
    mine = api.get(f"{REFERRALS}/hospitals", headers=NURSE)
    assert mine.status_code == 200, mine.text
    assert {
        "id": HOSPITAL_ID,
        "name": "Partner Hospital",
        "kind": "general_hospital",
        "sites": [ref_ward],
    } in mine.json()
    assert api.get(f"{REFERRALS}/hospitals", headers=DOCTOR).json() == []


def test_a_nurse_confirms_a_rules_suggestion(
    api: TestClient, db: Conn, db_url: str, resident: int
) -> None:
    async def suggest() -> int | None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await store.suggest_from_alert(
                conn,
                alert_id=980_000_001,
                resident_id=resident,
                rule_id="news2",
                title="NEWS2 8: high clinical risk",
                values={"total": 8},
                now=datetime.now(UTC),
            )

    rid = asyncio.run(suggest())
    assert rid is not None
    suggested = api.get(f"{REFERRALS}/{rid}").json()
    assert suggested["state"] == "suggested" and suggested["requester"] is None
    assert suggested["history"][0]["actor"] is None  # a rule opened it
    # Opening another by hand points at the suggestion instead.
    clash = api.post(REFERRALS, json={"resident_id": resident, "reason": "again"}, headers=NURSE)
    assert clash.status_code == 409 and clash.json()["detail"]["referral_id"] == rid
    confirmed = step(api, rid, "requested", NURSE)
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["requester"] == {"id": "ref-nurse", "role": "nurse", "side": "care"}
    assert datetime.fromisoformat(body["sla_due_at"]) - datetime.fromisoformat(
        body["updated_at"]
    ) == timedelta(minutes=15)


def test_refusals_say_why(api: TestClient, db: Conn, resident: int) -> None:
    rid = open_one(api, resident)["id"]
    rows = count(db, "SELECT count(*) FROM referral_transitions WHERE referral_id = %s", rid)

    illegal = step(api, rid, "admitted", DOCTOR)
    assert illegal.status_code == 409
    assert illegal.json()["detail"]["allowed_next"] == ["accepted", "declined", "cancelled"]
    assert "cannot go from 'requested' to 'admitted'" in illegal.json()["detail"]["message"]

    wrong_side = step(api, rid, "accepted", NURSE)
    assert wrong_side.status_code == 403
    assert wrong_side.json()["detail"]["required_side"] == "hospital"

    no_note = step(api, rid, "declined", DOCTOR, note="   ")
    assert no_note.status_code == 422
    assert no_note.json()["detail"][0]["loc"] == ["body", "note"]

    care_side = step(api, rid, "accepted", CARE_GIVER)
    assert care_side.status_code == 403
    bad_state = step(api, rid, "teleported", DOCTOR)
    assert bad_state.status_code == 422
    assert bad_state.json()["detail"][0]["loc"] == ["body", "to"]

    for method, url in (
        ("GET", f"{REFERRALS}/999999999"),
        ("GET", f"{REFERRALS}/999999999/fhir"),
        ("POST", f"{REFERRALS}/999999999/transition"),
    ):
        body = {"to": "accepted"} if method == "POST" else None
        missing = api.request(method, url, json=body, headers=DOCTOR)
        assert missing.status_code == 404, url
        assert missing.json() == {"detail": "unknown referral 999999999"}

    for fields, field in (
        ({"hospital_id": "nowhere"}, "hospital_id"),
        ({"resident_id": 999_999_999}, "resident_id"),
        ({"reason": "  "}, "reason"),
    ):
        refused = api.post(
            REFERRALS, json={"resident_id": resident, "reason": "x", **fields}, headers=NURSE
        )
        assert refused.status_code == 422, fields
        assert refused.json()["detail"][0]["loc"] == ["body", field]

    assert (
        count(db, "SELECT count(*) FROM referral_transitions WHERE referral_id = %s", rid) == rows
    )
    assert api.get(f"{REFERRALS}/{rid}").json()["state"] == "requested"
    # Without the token nothing is served.
    assert api.get(REFERRALS, headers={"Authorization": ""}).status_code == 401


def test_the_fhir_export(api: TestClient, resident: int) -> None:
    rid = open_one(api, resident)["id"]
    step(api, rid, "accepted", DOCTOR)
    response = api.get(f"{REFERRALS}/{rid}/fhir")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    data = response.json()
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"
    resources: dict[str, list[dict[str, Any]]] = {}
    for entry in data["entry"]:
        resources.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    assert set(resources) == {"Patient", "Organization", "ServiceRequest", "Task", "Observation"}
    (patient,) = resources["Patient"]
    assert patient["name"][0]["text"] == "王秀英"
    assert patient["identifier"][0]["value"] == str(resident)
    assert "birthDate" not in patient  # not on file: left out rather than made up
    (request,) = resources["ServiceRequest"]
    assert (request["status"], request["priority"]) == ("active", "stat")
    assert request["identifier"][0]["value"] == str(rid)
    (task,) = resources["Task"]
    assert (task["status"], task["businessStatus"]["text"]) == ("accepted", "accepted")
    codes = {
        c["code"]
        for obs in resources["Observation"]
        for c in obs["code"].get("coding", [])
        if c["system"] == LOINC
    }
    assert {"8867-4", "2708-6", "59408-5", "9279-1", "8310-5", "85354-9"} <= codes
    news2 = [o for o in resources["Observation"] if o["code"].get("text") == "NEWS2 total"]
    assert [o["valueInteger"] for o in news2] == [8]


def fhir_reason(api: TestClient, referral_id: int) -> str:
    exported = api.get(
        f"{REFERRALS}/{referral_id}/fhir", headers={**NURSE, "Accept-Language": "en"}
    )
    assert exported.status_code == 200, exported.text
    [request] = [
        e["resource"]
        for e in exported.json()["entry"]
        if e["resource"]["resourceType"] == "ServiceRequest"
    ]
    reason: str = request["reasonCode"][0]["text"]
    return reason


def test_a_rules_reason_is_read_in_the_readers_language(
    api: TestClient, db: Conn, db_url: str, resident: int
) -> None:
    async def suggest() -> int | None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await store.suggest_from_alert(
                conn,
                alert_id=980_000_101,
                resident_id=resident,
                rule_id="news2",
                title="NEWS2 8: high clinical risk",
                values={"total": 8, "band": "high", "rr": 3, "value_rr": 26},
                now=datetime.now(UTC),
            )

    rid = asyncio.run(suggest())
    assert rid is not None
    code, params = db.execute(
        "SELECT reason_code, reason_params FROM referrals WHERE referral_id = %s", [rid]
    ).fetchone() or (None, None)
    assert code == "alert" and params["rule"] == "news2" and params["value_rr"] == 26
    zh = api.get(f"{REFERRALS}/{rid}", headers={**NURSE, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 200, zh.text
    assert zh.json()["reason"] == "NEWS2 评分升高，NEWS2 8（高风险）：呼吸频率 26 次/分（3）"
    assert zh.json()["reason_code"] == "alert" and zh.json()["reason_params"]["rule"] == "news2"
    listed = api.get(
        REFERRALS, params={"resident": resident}, headers={**NURSE, "Accept-Language": "en"}
    )
    [item] = [i for i in listed.json()["items"] if i["id"] == rid]
    assert item["reason"].startswith("NEWS2 raised — NEWS2 8 (High risk)"), item["reason"]
    # The ward's care team speaks English (site_defaults): without a header, English.
    assert api.get(f"{REFERRALS}/{rid}", headers=NURSE).json()["reason"] == item["reason"]
    # The FHIR export says it in the site's language (English here), whoever asks in whatever
    # language; in Chinese once the site speaks Chinese.
    assert fhir_reason(api, rid) == item["reason"]
    document = api.get("/api/v1/care-team").json()["document"]
    chinese = {**document, "site_defaults": {**document["site_defaults"], "language": "zh-CN"}}
    assert api.put("/api/v1/care-team", json=chinese).status_code == 200
    try:
        assert fhir_reason(api, rid) == zh.json()["reason"]
    finally:
        assert api.put("/api/v1/care-team", json=document).status_code == 200
    step(api, rid, "dismissed", NURSE, note="managed here")


def test_a_referral_from_before_the_codes_shows_its_stored_text(
    api: TestClient, db: Conn, resident: int
) -> None:
    old = "NEWS2 8: high clinical risk (total 8, band high, rr 3)"
    row = db.execute(
        "INSERT INTO referrals (resident_id, site_id, unit_id, hospital_id, hospital_name,"
        " state, trigger, reason, patient, created_at, updated_at)"
        " SELECT resident_id, site_id, unit_id, %s, 'Partner Hospital', 'dismissed', 'news2',"
        " %s, jsonb_build_object('name', display_name, 'sex', 'unknown', 'site_id', site_id,"
        " 'unit_id', unit_id), now(), now() FROM residents WHERE resident_id = %s"
        " RETURNING referral_id",
        [HOSPITAL_ID, old, resident],
    ).fetchone()
    assert row is not None
    db.commit()
    answer = api.get(f"{REFERRALS}/{row[0]}", headers={**NURSE, "Accept-Language": "zh-CN"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["reason"], answer.json()["reason_code"]) == (old, None)


def test_the_fhir_export_carries_the_resident_record(api: TestClient, resident: int) -> None:
    national_id = fresh_national_id()  # one person, one record per site
    record = {
        "sex": "female",
        "birth_date": "1949-12-31",
        "national_id": national_id,
        "insurance_no": "ZJ330106778899",
        "phone": "13800138000",
        "address": "杭州市西湖区文三路 1 号",
        "emergency_contacts": [{"name": "李梅", "relation": "女儿", "phone": "13900139000"}],
        "diagnoses": [{"code": "I10", "display": "原发性高血压"}],
        "allergies": ["青霉素", "磺胺类"],
    }
    assert api.patch(f"/api/v1/residents/{resident}", json=record).status_code == 200
    opened = open_one(api, resident)
    rid = opened["id"]
    # The snapshot sent with the referral knows them too (never the identifiers).
    patient = opened["snapshot"]["patient"]
    assert (patient["sex"], patient["birth_date"]) == ("female", "1949-12-31")
    assert national_id not in str(opened)
    step(api, rid, "accepted", DOCTOR)

    def export(headers: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        response = api.get(f"{REFERRALS}/{rid}/fhir", headers=headers)
        assert response.status_code == 200, response.text
        Bundle.model_validate(response.json())
        found: dict[str, list[dict[str, Any]]] = {}
        for entry in response.json()["entry"]:
            found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
        return found

    resources = export(DOCTOR)  # the receiving hospital's physician
    (patient,) = resources["Patient"]
    assert (patient["gender"], patient["birthDate"]) == ("female", "1949-12-31")
    ids = {i["system"]: i["value"] for i in patient["identifier"]}
    assert ids == {
        "urn:carewatch:resident-id": str(resident),
        "urn:oid:2.16.156.10011.1.3": national_id,
        "urn:carewatch:cn-medical-insurance-no": "ZJ330106778899",
    }
    assert patient["telecom"] == [{"system": "phone", "value": "13800138000", "use": "home"}]
    assert patient["address"][0]["text"] == "杭州市西湖区文三路 1 号"
    (contact,) = patient["contact"]
    assert (contact["name"]["text"], contact["relationship"][0]["text"]) == ("李梅", "女儿")
    (condition,) = resources["Condition"]
    assert condition["code"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/icd-10",
        "code": "I10",
        "display": "原发性高血压",
    }
    assert condition["subject"]["reference"].startswith("urn:uuid:")
    assert [a["code"]["text"] for a in resources["AllergyIntolerance"]] == ["青霉素", "磺胺类"]
    # A caregiver's export leaves the identifiers out (docs/security.md); the rest is there.
    cared = export(CARE_GIVER)
    (patient,) = cared["Patient"]
    assert [i["system"] for i in patient["identifier"]] == ["urn:carewatch:resident-id"]
    assert patient["birthDate"] == "1949-12-31" and len(cared["Condition"]) == 1
