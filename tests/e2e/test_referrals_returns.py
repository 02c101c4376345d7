"""Downward referral through the API (issue 17): the partner hospital sends a resident back
with a discharge summary, as JSON or as a FHIR Bundle (a 400 naming the part at fault when it
is not one), and a post-discharge watch period starts on the care side: the resident's rules
tightened for N days, listed for the board, ended by the alert service's tick."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.careteam.store import current_team, store_team
from services.careteam.team import ReferralTimes
from services.referrals.discharge_fhir import MEDICATION_CHANGE_SYSTEM
from services.referrals.fhir import RESIDENT_ID_SYSTEM
from services.referrals.fhir_record import ICD10_SYSTEM
from services.referrals.for_alerts import AlertReferrals
from services.referrals.watch import WATCH_OVERRIDES
from services.resident_rules import effective_rules
from services.settings import ServiceRole
from tests.e2e.test_referrals_api import DOCTOR, HIS, NURSE, REFERRALS, ref_ward
from tests.services.referrals.test_store import (
    HOSPITAL_ID,
    LONELY_SITE,
    last_notification,
    new_resident,
    notifications,
)
from tests.support import Conn, login_as

pytestmark = pytest.mark.services

__all__ = ["ref_ward"]  # a fixture used here

RETURNS = f"{REFERRALS}/returns"
SUMMARY: dict[str, Any] = {
    "diagnoses": [{"code": "I63.9", "display": "脑梗死"}],
    "medication_changes": [
        {"medication": "阿司匹林 100 mg", "change": "start", "detail": "每日一次"},
        {"medication": "华法林", "change": "stop"},
    ],
    "follow_up": "两周后神经内科复诊；每日测血压两次",
}
OWN = {"vitals": {"max_gap_s": 300.0}}  # the resident's own overrides before the return


def referred(api: TestClient, resident_id: int) -> int:
    """An emergency transfer to the partner hospital: a hospital returns only whom it was sent."""
    body = {"resident_id": resident_id, "reason": "NEWS2 8"}
    answer = api.post(REFERRALS, json=body, headers=NURSE)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


@pytest.fixture
def back_home(db: Conn, api: TestClient, ref_ward: str) -> int:
    rid = new_resident(db)
    db.execute(
        "UPDATE residents SET rule_overrides = %s::jsonb WHERE resident_id = %s",
        ['{"vitals": {"max_gap_s": 300.0}}', rid],
    )
    referred(api, rid)
    return rid


def own_overrides(db: Conn, resident_id: int) -> Any:
    row = db.execute(
        "SELECT rule_overrides FROM residents WHERE resident_id = %s", [resident_id]
    ).fetchone()
    assert row is not None
    return row[0]


def watched(api: TestClient, resident_id: int) -> list[dict[str, Any]]:
    answer = api.get("/api/v1/watch-periods", params={"site": "ref-site"}, headers=NURSE)
    assert answer.status_code == 200, answer.text
    return [w for w in answer.json() if w["resident_id"] == resident_id]


def bundle(resident_id: int, *extra: dict[str, Any], plan: bool = True) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": str(resident_id)}],
            }
        },
        {
            "resource": {
                "resourceType": "Condition",
                "subject": {"reference": "Patient/p"},
                "code": {"coding": [{"system": ICD10_SYSTEM, "code": "J18.9", "display": "肺炎"}]},
            }
        },
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "status": "active",
                "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {"text": "阿莫西林"},
                "statusReason": [
                    {"coding": [{"system": MEDICATION_CHANGE_SYSTEM, "code": "start"}]}
                ],
                "dosage": [{"text": "0.5 g 每日三次，共 5 天"}],
            }
        },
        *({"resource": r} for r in extra),
    ]
    if plan:
        entries.append(
            {
                "resource": {
                    "resourceType": "CarePlan",
                    "status": "active",
                    "intent": "plan",
                    "subject": {"reference": "Patient/p"},
                    "description": "一周后复查胸片",
                }
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def test_a_hospital_return_with_a_discharge_summary_starts_a_watch(
    api: TestClient, db: Conn, back_home: int
) -> None:
    before = last_notification(db)
    answer = api.post(
        RETURNS, json={"resident_id": back_home, "discharge": SUMMARY}, headers=DOCTOR
    )
    assert answer.status_code == 201, answer.text
    data = answer.json()
    referral, watch = data["referral"], data["watch"]
    assert (referral["kind"], referral["state"], referral["trigger"]) == (
        "return",
        "returned",
        "hospital",
    )
    assert referral["hospital"]["id"] == HOSPITAL_ID
    assert referral["discharge"]["diagnoses"] == SUMMARY["diagnoses"]
    assert referral["discharge"]["medication_changes"][1]["change"] == "stop"
    assert referral["discharge"]["follow_up"] == SUMMARY["follow_up"]
    assert referral["history"][0]["actor"]["side"] == "hospital"
    ends = datetime.fromisoformat(watch["ends_at"]) - datetime.fromisoformat(watch["started_at"])
    assert ends == timedelta(days=7)
    # The care side hears, and reads it.
    assert {"ref-nurse", "ref-cg", "ref-charge", "ref-doc"} <= set(
        notifications(db, referral["id"], before)
    )
    assert api.get(f"{REFERRALS}/{referral['id']}", headers=NURSE).json()["discharge"]
    # The rules the detector reads are tightened, the resident's own overrides kept.
    own = own_overrides(db, back_home)
    assert own["vitals"] == OWN["vitals"]
    config = effective_rules(None, own, resident_id=back_home)
    assert config.news2.observe_every_s.low == WATCH_OVERRIDES["news2"]["observe_every_s"]["low"]
    assert [w["referral_id"] for w in watched(api, back_home)] == [referral["id"]]
    # Scoped like the board: a nurse of another site does not see it.
    other = login_as(api, "ret-nurse-lonely", "nurse", site=LONELY_SITE)
    elsewhere = api.get("/api/v1/watch-periods", headers=other).json()
    assert back_home not in [w["resident_id"] for w in elsewhere]


def test_the_watch_ends_by_itself_and_gives_the_rules_back(
    api: TestClient, db: Conn, role_db_url: Callable[[ServiceRole], str], back_home: int
) -> None:
    body = {"resident_id": back_home, "discharge": SUMMARY, "watch_days": 2}
    answer = api.post(RETURNS, json=body, headers=HIS)
    assert answer.status_code == 201, answer.text
    ends = datetime.fromisoformat(answer.json()["watch"]["ends_at"])

    async def tick(at: datetime) -> None:
        # As the alert service connects (its database role).
        url = role_db_url("alerts")
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await AlertReferrals().tick(conn, at)

    asyncio.run(tick(ends - timedelta(minutes=1)))
    assert own_overrides(db, back_home) != OWN
    asyncio.run(tick(ends + timedelta(seconds=1)))
    assert own_overrides(db, back_home) == OWN
    assert watched(api, back_home) == []
    ended = db.execute(
        "SELECT ended_at IS NOT NULL FROM watch_periods WHERE resident_id = %s", [back_home]
    ).fetchall()
    assert ended == [(True,)]


def test_a_second_return_extends_the_watch(api: TestClient, back_home: int) -> None:
    first = api.post(
        RETURNS,
        json={"resident_id": back_home, "discharge": SUMMARY, "watch_days": 1},
        headers=DOCTOR,
    )
    second = api.post(
        RETURNS,
        json={"resident_id": back_home, "discharge": SUMMARY, "watch_days": 5},
        headers=DOCTOR,
    )
    assert first.status_code == second.status_code == 201, second.text
    w1, w2 = first.json()["watch"], second.json()["watch"]
    assert w2["started_at"] == w1["started_at"] and w2["ends_at"] > w1["ends_at"]
    assert len(watched(api, back_home)) == 1


def test_a_fhir_discharge_summary_starts_a_watch(api: TestClient, db: Conn, back_home: int) -> None:
    answer = api.post(
        f"{RETURNS}/fhir",
        json=bundle(back_home),
        params={"watch_days": 3},
        headers={**HIS, "Content-Type": "application/fhir+json"},
    )
    assert answer.status_code == 201, answer.text
    discharge = answer.json()["referral"]["discharge"]
    assert discharge == {
        "diagnoses": [{"code": "J18.9", "display": "肺炎"}],
        "medication_changes": [
            {"medication": "阿莫西林", "change": "start", "detail": "0.5 g 每日三次，共 5 天"}
        ],
        "follow_up": "一周后复查胸片",
    }
    assert len(watched(api, back_home)) == 1


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda rid: {"resourceType": "Patient"}, "resourceType"),
        (lambda rid: {**bundle(rid), "entry": bundle(rid)["entry"][1:]}, "Patient"),
        (
            lambda rid: bundle(
                rid,
                {
                    "resourceType": "Condition",
                    "subject": {"reference": "Patient/p"},
                    "code": {"text": "fever"},
                },
            ),
            "entry[3].resource.code",
        ),
        (
            lambda rid: bundle(rid, {"resourceType": "Patient", "birthDate": "yesterday"}),
            "entry[3].resource.birthDate",
        ),
        (lambda rid: bundle(rid, plan=False), "CarePlan.description"),
    ],
    ids=["not a bundle", "no patient", "no icd-10", "invalid fhir", "no follow-up plan"],
)
def test_a_bad_bundle_is_refused_naming_what_is_wrong(
    api: TestClient, db: Conn, back_home: int, make: Any, where: str
) -> None:
    answer = api.post(f"{RETURNS}/fhir", json=make(back_home), headers=HIS)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]["where"] == where
    assert where.split(".")[0].split("[")[0] in answer.json()["detail"]["message"]
    assert watched(api, back_home) == []  # nothing else lost or started
    assert own_overrides(db, back_home) == OWN


def test_only_a_partner_hospital_sends_a_resident_back(
    api: TestClient, db: Conn, back_home: int
) -> None:
    body = {"resident_id": back_home, "discharge": SUMMARY}
    refused = api.post(RETURNS, json=body, headers=NURSE)
    assert refused.status_code == 403, refused.text
    # A resident elsewhere, one of a partner site never referred to the hospital, and no
    # resident at all: one answer, naming nobody.
    elsewhere = new_resident(db, LONELY_SITE)
    unsent = new_resident(db, name="未转诊")
    answers = [
        api.post(RETURNS, json={**body, "resident_id": other}, headers=DOCTOR)
        for other in (elsewhere, unsent, 2_000_000_000)
    ]
    assert [a.status_code for a in answers] == [422, 422, 422], answers[0].text
    assert {a.json()["detail"][0]["msg"].split(" was ")[1] for a in answers} == {"referred to you"}
    assert all(a.json()["detail"][0]["loc"] == ["body", "resident_id"] for a in answers)
    assert "未转诊" not in answers[1].text
    bad = {**body, "discharge": {**SUMMARY, "diagnoses": [{"code": "fever", "display": "x"}]}}
    assert api.post(RETURNS, json=bad, headers=DOCTOR).status_code == 422
    assert watched(api, back_home) == []


def test_a_deployment_sets_its_own_watch_length(
    api: TestClient, db_url: str, back_home: int
) -> None:
    async def set_days(days: int | None) -> None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            _, team = await current_team(conn)
            times = ReferralTimes(watch_days=days)
            await store_team(conn, team.model_copy(update={"referrals": times}), by="t")

    asyncio.run(set_days(3))
    try:
        body = {"resident_id": back_home, "discharge": SUMMARY}
        answer = api.post(RETURNS, json=body, headers=DOCTOR)
        assert answer.status_code == 201, answer.text
        watch = answer.json()["watch"]
        length = datetime.fromisoformat(watch["ends_at"]) - datetime.fromisoformat(
            watch["started_at"]
        )
        assert length == timedelta(days=3)
    finally:
        asyncio.run(set_days(None))


def test_a_return_admits_a_resident_marked_in_hospital_again(
    api: TestClient, db: Conn, back_home: int
) -> None:
    db.execute("UPDATE residents SET status = 'in_hospital' WHERE resident_id = %s", [back_home])
    answer = api.post(
        RETURNS, json={"resident_id": back_home, "discharge": SUMMARY}, headers=DOCTOR
    )
    assert answer.status_code == 201, answer.text
    referral_id = answer.json()["referral"]["id"]
    row = db.execute(
        "SELECT r.status, h.set_by FROM residents r JOIN resident_status_history h"
        " USING (resident_id) WHERE resident_id = %s ORDER BY h.set_at DESC LIMIT 1",
        [back_home],
    ).fetchone()
    assert row == ("admitted", f"referral/{referral_id}")
