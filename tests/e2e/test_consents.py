"""Consent records (issue 17): stored per resident with who recorded each and when, read back
with the one in force per kind; checked where data leaves: a resident without consent to
third-party messaging is never named, nor their values shown, in a page to a third-party
channel (every apprise channel is one) or on the acknowledgement page it links to, even at a
site that allows details."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from services.settings import Settings
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, login_as

RESIDENTS = "/api/v1/residents"
LINK = re.compile(r"Acknowledge: (\S+)")


def test_consents_are_recorded_with_who_and_when(api: TestClient, db: Conn, ward: str) -> None:
    rid = resident(db, "Qian Hui", consent=False)
    nurse = login_as(api, "cs-nurse", "nurse", site=SITE, units=(UNIT,))
    caregiver = login_as(api, "cs-cg", "caregiver", site=SITE, units=(UNIT,))
    url = f"{RESIDENTS}/{rid}/consents"

    none = api.get(url, headers=caregiver).json()
    assert none["history"] == [] and set(none["current"].values()) == {None}
    assert api.put(url, json={"consents": {"family": True}}, headers=caregiver).status_code == 403
    unknown = api.put(url, json={"consents": {"marketing": True}}, headers=nurse)
    assert unknown.status_code == 422 and "marketing" in unknown.text
    assert api.put(url, json={"consents": {}}, headers=nurse).status_code == 422

    given = api.put(
        url, json={"consents": {"monitoring": True, "family": True}}, headers=nurse
    ).json()
    withdrawn = api.put(url, json={"consents": {"family": False}}, headers=nurse)
    assert withdrawn.status_code == 200, withdrawn.text
    now = withdrawn.json()
    assert now["current"] == {
        "monitoring": True,
        "family": False,
        "partner_hospitals": None,
        "disease_control": None,
        "third_party_messaging": None,
    }
    assert len(given["history"]) == 2 and len(now["history"]) == 3
    assert now["history"][0]["kind"] == "family" and now["history"][0]["granted"] is False
    assert {h["recorded_by"] for h in now["history"]} == {"cs-nurse"}
    assert api.get(url, headers=caregiver).json() == now
    audited = db.execute(
        "SELECT resource FROM audit_log WHERE action = 'resident.consents' AND resident_id = %s"
        " ORDER BY audit_id",
        [rid],
    ).fetchall()
    db.commit()
    assert [r for (r,) in audited] == [
        f"resident/{rid}/consents/family=yes,monitoring=yes",
        f"resident/{rid}/consents/family=no",
    ]


def test_no_messaging_consent_keeps_name_and_values_out_of_pages(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))  # the site allows details: `details: full`
    refused = resident(db, "Kong Yu", room="301", consent=False)
    consented = resident(db, "Bai Xue", room="302")
    # Consent given, then withdrawn: the newest record is the one in force.
    for granted in (True, False):
        put = api.put(
            f"{RESIDENTS}/{refused}/consents",
            json={"consents": {"third_party_messaging": granted}},
        )
        assert put.status_code == 200, put.text
    run_service(settings)
    for rid in (refused, consented):
        candidate(db, f"resident:{rid}", values={"impact_g": 3.7})
    pages = {p.title: p for p in http.wait(2, timeout=15, what="both pages")}
    named = [p for t, p in pages.items() if "Bai Xue" in t]
    assert len(named) == 1 and "impact 3.7 g" in named[0].body
    (private,) = [p for p in pages.values() if "room 301" in p.body + p.title]
    for secret in ("Kong Yu", "3.7"):
        assert secret not in private.title and secret not in private.body, private
    # Nor the acknowledgement page its link opens (messaging apps open it for previews).
    link = LINK.search(private.body)
    assert link is not None
    shown = api.get(urlsplit(link.group(1)).path)
    assert shown.status_code == 200 and "301" in shown.text
    assert "Kong Yu" not in shown.text
