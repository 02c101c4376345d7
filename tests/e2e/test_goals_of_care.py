"""Goals of care (issue 17): a physician sets or clears comfort care with a reason, audited and
kept with who and when; nobody else may. Through the real alert service: a high NEWS2 of a
resident on comfort care pages but suggests no hospital transfer, while the same for another
resident does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from services.settings import Settings
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, count, login_as, wait_for

RESIDENTS = "/api/v1/residents"


def comfort(api: TestClient, rid: int, headers: dict[str, str], on: bool = True) -> Any:
    return api.put(
        f"{RESIDENTS}/{rid}/goals-of-care",
        json={"comfort_care": on, "reason": "家属与医生商定以舒缓治疗为主"},
        headers=headers,
    )


def test_only_a_physician_sets_comfort_care_and_each_change_is_kept(
    api: TestClient, db: Conn, ward: str
) -> None:
    rid = resident(db, "Song Lan")
    doctor = login_as(api, "goc-doc", "physician", site=SITE, units=(UNIT,))
    nurse = login_as(api, "goc-nurse", "nurse", site=SITE, units=(UNIT,))

    refused = comfort(api, rid, nurse)
    assert refused.status_code == 403
    # Nor an administrator (the `api` client's admin token): a clinical decision.
    by_admin = api.put(
        f"{RESIDENTS}/{rid}/goals-of-care", json={"comfort_care": True, "reason": "x"}
    )
    assert by_admin.status_code == 403
    empty = api.put(
        f"{RESIDENTS}/{rid}/goals-of-care",
        json={"comfort_care": True, "reason": ""},
        headers=doctor,
    )
    assert empty.status_code == 422 and "reason" in empty.text

    set_on = comfort(api, rid, doctor)
    assert set_on.status_code == 200, set_on.text
    cleared = comfort(api, rid, doctor, on=False).json()
    assert cleared["comfort_care"] is False
    assert [(h["comfort_care"], h["set_by"]) for h in cleared["history"]] == [
        (False, "goc-doc"),
        (True, "goc-doc"),
    ]
    assert cleared["history"][0]["reason"] == "家属与医生商定以舒缓治疗为主"
    read = api.get(f"{RESIDENTS}/{rid}/goals-of-care", headers=nurse)
    assert read.status_code == 200 and read.json() == cleared
    audited = db.execute(
        "SELECT actor, resource FROM audit_log WHERE action = 'resident.comfort_care'"
        " AND resident_id = %s ORDER BY audit_id",
        [rid],
    ).fetchall()
    db.commit()
    assert audited == [
        ("goc-doc", f"resident/{rid}/comfort_care/on"),
        ("goc-doc", f"resident/{rid}/comfort_care/off"),
    ]


def chart_news2_9(db: Conn, rid: int) -> None:
    """Stored readings scoring NEWS2 9 (RR 3, SpO2 3, temperature 3), as a round records them:
    the referral suggestion checks them."""
    now = datetime.now(UTC)
    for metric, value in {"rr": 26.0, "spo2": 90.0, "temp": 34.8, "hr": 80.0, "sbp": 120.0}.items():
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, 'manual', %s)",
            [now, f"manual-{rid}", rid, metric, value, now],
        )
    db.commit()


def raise_news2_9(db: Conn, rid: int) -> None:
    """Readings that score NEWS2 9, and the detector's candidate for them."""
    chart_news2_9(db, rid)
    candidate(
        db,
        f"resident:{rid}",
        rule_id="news2",
        severity="critical",
        title="NEWS2 9 (high)",
        values={"news2": 9},
        suggestion="referral",
    )


def test_a_high_news2_on_comfort_care_pages_but_suggests_no_transfer(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    document = team(http, smtp)
    document["hospitals"] = [
        {"id": "h1", "name": "County Hospital", "sites": ["t1"], "channels": [http.url("h1")]}
    ]
    store(db, document)
    palliative = resident(db, "Gao Min")
    other = resident(db, "Fang Jie")
    doctor = login_as(api, "goc-doc2", "physician", site=SITE, units=(UNIT,))
    assert comfort(api, palliative, doctor).status_code == 200
    run_service(settings)
    for rid in (palliative, other):
        raise_news2_9(db, rid)
    pages = http.wait(2, timeout=15, what="both residents' pages")
    assert {p.path for p in pages} == {"/cg1"}
    assert any("Gao Min" in p.title for p in pages) and any("Fang Jie" in p.title for p in pages)
    # The other resident's suggestion is made; by then the comfort-care one has been decided.
    wait_for(
        lambda: db.execute(
            "SELECT resident_id, state FROM referrals WHERE resident_id = ANY(%s)"
            " ORDER BY resident_id",
            [[palliative, other]],
        ).fetchall(),
        until=lambda rows: rows == [(other, "suggested")],
        what="the other resident's referral suggestion",
    )
    assert count(db, f"SELECT count(*) FROM referrals WHERE resident_id = {palliative}") == 0
    assert count(db, "SELECT count(*) FROM alerts WHERE rule_id = 'news2'") == 2
    # Tests after this one count referrals from none: take the suggestion back out.
    db.execute(
        "DELETE FROM referral_transitions WHERE referral_id IN"
        " (SELECT referral_id FROM referrals WHERE resident_id = %s)",
        [other],
    )
    db.execute("DELETE FROM referrals WHERE resident_id = %s", [other])
    db.commit()
