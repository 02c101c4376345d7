"""Issue 18, through the real pipeline: a gastrointestinal case file (two residents' symptoms
and a member of staff's check-in → detector → case file and cluster page) left neither
reported nor ruled out past the configured time pages the infection-control lead, then the
physician; marking it reported stands that down."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, store, team
from tests.e2e.test_outbreaks_staff import _resident, _unit
from tests.receivers import HttpReceiver, Received, SmtpReceiver
from tests.support import SITE, Conn, login_as, wait_for

UNIT = "obe1"


def test_an_unreported_case_file_escalates_until_it_is_reported(
    db: Conn,
    api: TestClient,
    ward: str,
    detector: ServiceProcess,
    settings: Settings,
    run_service: type[Running],
    http: HttpReceiver,
    smtp: SmtpReceiver,
) -> None:
    _unit(db, UNIT)
    document = team(http, smtp)
    document["alerts"]["outbreak_report_within_s"] = 3
    document["alerts"]["escalation"]["audiences"]["outbreak_overdue"] = {
        "steps": [
            {"who": ["infection_control"], "timeout_s": 3, "renotify_every_s": 1},
            {"who": ["physician"], "renotify_every_s": 1},
        ]
    }
    store(db, document)
    run_service(settings, tick_s=0.2)
    nurse = login_as(api, "obe-nurse", "nurse", site=SITE, units=(UNIT,), staff="obe-nurse")
    carer = login_as(api, "obe-carer", "caregiver", site=SITE, units=(UNIT,), staff="obe-cg")
    # Two residents and one member of staff of the unit: the done-when's cluster.
    for n, sign in enumerate(["vomiting", "diarrhoea"]):
        rid = _resident(db, f"Escalation {n}", UNIT)
        posted = api.post(
            f"/api/v1/residents/{rid}/symptoms", json={"symptoms": [sign]}, headers=nurse
        )
        assert posted.status_code == 201, posted.text
    checked = api.post(
        "/api/v1/staff-checkins",
        json={"temperature": 36.9, "symptoms": ["vomiting"]},
        headers=carer,
    )
    assert checked.status_code == 201, checked.text
    [(oid,)] = wait_for(
        lambda: db.execute(
            "SELECT outbreak_id FROM outbreaks WHERE site_id = %s AND unit_id = %s",
            [SITE, UNIT],
        ).fetchall(),
        until=lambda rows: len(rows) == 1,
        timeout=30,
        what="the case file",
    )
    kinds = wait_for(
        lambda: db.execute(
            "SELECT person_kind, count(*) FROM outbreak_cases WHERE outbreak_id = %s"
            " GROUP BY 1 ORDER BY 1",
            [oid],
        ).fetchall(),
        until=lambda rows: sum(n for _, n in rows) == 3,
        timeout=30,
        what="its three cases",
    )
    assert kinds == [("resident", 2), ("staff", 1)]
    db.commit()

    def overdue(path: str) -> list[Received]:
        return [r for r in http.for_path(path) if f"case file {oid} " in r.title]

    # The lead first, then (nobody acting) the physician; the lead is reminded meanwhile.
    http.wait_until(lambda _: len(overdue("ic1")) >= 1, 30, "the lead's overdue page")
    http.wait_until(lambda _: len(overdue("dr1")) >= 1, 30, "the physician's overdue page")
    assert overdue("ic1")[0].at < overdue("dr1")[0].at
    assert "not reported" in overdue("dr1")[0].title

    reported = api.post(
        f"/api/v1/outbreaks/{oid}/report", json={"reported_to": "区疾控中心"}, headers=nurse
    )
    assert reported.status_code == 200, reported.text
    wait_for(
        lambda: db.execute(
            "SELECT outcome FROM alerts WHERE dedupe_key = %s",
            [f"outbreak.report_overdue:{oid}"],
        ).fetchall(),
        until=lambda rows: rows == [("self_cleared",)],
        timeout=30,
        what="the overdue alert stood down",
    )
    # Reminders were every second: three seconds without one shows they stopped.
    before = len(overdue("ic1")) + len(overdue("dr1"))
    time.sleep(3)
    assert len(overdue("ic1")) + len(overdue("dr1")) == before
