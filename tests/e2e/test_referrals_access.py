"""The receiving hospital's physician reads the referred resident's trends and alerts while
the referral is open, and only then (issue 17): scoped to that resident, every read audited,
403 once the referral is closed and for anyone else at the hospital."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_referrals_api import DOCTOR, HIS, NURSE, REFERRALS, open_one, ref_ward, step
from tests.services.referrals.test_store import SITE, UNIT, deteriorating, new_resident
from tests.support import Conn, count, login_as

pytestmark = pytest.mark.services

__all__ = ["ref_ward"]  # a fixture used here

_ids = itertools.count(981_000_001)


def an_alert(db: Conn, resident_id: int) -> int:
    aid = next(_ids)
    db.execute(
        "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
        " severity, title, opened_at, updated_at) VALUES (%s, %s, %s, %s, %s, 'open', 'high',"
        " 'SpO2 low', now(), now())",
        [aid, f"resident:{resident_id}", SITE, UNIT, resident_id],
    )
    db.execute(
        "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject, resident_id,"
        " title, severity, opened_at, first_ts, last_ts, count, updated_at) VALUES (%s, %s,"
        " 'vitals.spo2', %s, 's', %s, 'SpO2 low', 'high', now(), now(), now(), 1, now())",
        [aid, aid, f"acc{aid}", resident_id],
    )
    return aid


def reads(db: Conn, referral_id: int, action: str) -> int:
    return count(
        db,
        "SELECT count(*) FROM audit_log WHERE actor = 'h-doc' AND action = %s AND resource = %s",
        action,
        f"referral/{referral_id}",
    )


def test_the_physician_reads_the_resident_only_while_the_referral_is_open(
    api: TestClient, db: Conn, ref_ward: str
) -> None:
    resident = new_resident(db)
    deteriorating(db, resident, datetime.now(UTC))
    mine = an_alert(db, resident)
    neighbour = new_resident(db)
    theirs = an_alert(db, neighbour)
    rid = open_one(api, resident)["id"]
    vitals = f"{REFERRALS}/{rid}/vitals"
    alerts = f"{REFERRALS}/{rid}/alerts"

    trend = api.get(vitals, params={"metric": ["hr", "spo2"]}, headers=DOCTOR)
    assert trend.status_code == 200, trend.text
    assert trend.json()["resident_id"] == resident
    assert {s["metric"] for s in trend.json()["series"] if s["points"]} == {"hr", "spo2"}
    listed = api.get(alerts, headers=DOCTOR)
    assert listed.status_code == 200, listed.text
    ids = [a["alert_id"] for a in listed.json()["items"]]
    assert mine in ids and theirs not in ids
    assert {a["resident_id"] for a in listed.json()["items"]} == {resident}
    assert (reads(db, rid, "referral.vitals"), reads(db, rid, "referral.alerts")) == (1, 1)
    # Still no door to the resident's own routes, nor to the neighbour.
    assert (
        api.get(
            f"/api/v1/residents/{resident}/vitals", params={"metric": "hr"}, headers=DOCTOR
        ).status_code
        == 403
    )
    # Only physicians of the receiving hospital: not its system, not another hospital's.
    assert api.get(alerts, headers=HIS).status_code == 403
    other = login_as(api, "acc-h2-doc", "physician", hospital="acc-other-hosp", staff="acc-h2")
    assert api.get(alerts, headers=other).status_code == 403

    # Through admission the door stays open; once the referral ends it closes.
    assert step(api, rid, "accepted", DOCTOR).status_code == 200
    assert api.get(alerts, headers=DOCTOR).status_code == 200
    assert step(api, rid, "cancelled", NURSE, "family chose to stay").status_code == 200
    for url, params in ((vitals, {"metric": "hr"}), (alerts, {})):
        closed = api.get(url, params=params, headers=DOCTOR)
        assert closed.status_code == 403, closed.text
        assert "cancelled" in closed.json()["detail"]
    # The care side still reads its own resident through the referral.
    assert api.get(alerts, headers=NURSE).status_code == 200


def test_a_planned_referral_shares_the_resident_only_with_consent(
    api: TestClient, db: Conn, ref_ward: str
) -> None:
    resident = new_resident(db)
    body = {"resident_id": resident, "reason": "eye clinic", "kind": "appointment"}
    created = api.post(REFERRALS, json=body, headers=NURSE)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    paths = [f"{REFERRALS}/{rid}/fhir", f"{REFERRALS}/{rid}/alerts"]
    for path in paths:
        refused = api.get(path, headers=DOCTOR)
        assert refused.status_code == 403 and "consented" in refused.text, path
    assert api.get(paths[0], headers=NURSE).status_code == 200  # the care side's own export
    given = api.put(
        f"/api/v1/residents/{resident}/consents",
        json={"consents": {"partner_hospitals": True}},
        headers=NURSE,
    )
    assert given.status_code == 200, given.text
    for path in paths:
        assert api.get(path, headers=DOCTOR).status_code == 200, path
    # An emergency transfer needs no consent (a person's life and health: PIPL art. 13(4)).
    emergency = open_one(api, new_resident(db))["id"]
    assert api.get(f"{REFERRALS}/{emergency}/fhir", headers=DOCTOR).status_code == 200
