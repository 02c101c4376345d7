"""Issue 18, site-level clusters through the real pipeline: one gastrointestinal case in each
of three units of a site (no unit's rule reaches its 3) opens ONE case file for the site, with
no unit and each case in its own unit; the alert service routes its page, and the file's
escalation when left unreported, as the site's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import Conn, login_as, wait_for

SITE = "obsite"  # a site of its own: no other test's cases in its site-level clusters
UNITS = ("osa", "osb", "osc")


def test_cases_in_three_units_open_one_site_case_file(
    db: Conn,
    api: TestClient,
    ward: str,
    detector: ServiceProcess,
    settings: Settings,
    run_service: type[Running],
    http: HttpReceiver,
    smtp: SmtpReceiver,
) -> None:
    db.execute("INSERT INTO sites VALUES (%s, 'Site clusters') ON CONFLICT DO NOTHING", [SITE])
    for unit in UNITS:
        db.execute("INSERT INTO units VALUES (%s, %s, 'Unit') ON CONFLICT DO NOTHING", [SITE, unit])
    db.commit()
    document = team(http, smtp)
    document["alerts"]["outbreak_report_within_s"] = 3
    store(db, document)
    run_service(settings, tick_s=0.2)
    lead = login_as(api, "os-lead", "nurse", site=SITE)  # the whole site
    unit_nurse = login_as(api, "os-unit", "nurse", site=SITE, units=("osa",))
    sick = {}
    for unit in UNITS:
        row = db.execute(
            "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, %s, %s)"
            " RETURNING resident_id",
            [SITE, unit, f"Site case {unit}"],
        ).fetchone()
        assert row is not None
        db.commit()
        rid = int(row[0])
        sick[rid] = unit
        posted = api.post(
            f"/api/v1/residents/{rid}/symptoms", json={"symptoms": ["diarrhoea"]}, headers=lead
        )
        assert posted.status_code == 201, posted.text

    [(oid, unit_id, rule_id)] = wait_for(
        lambda: db.execute(
            "SELECT outbreak_id, unit_id, rule_id FROM outbreaks o WHERE site_id = %s"
            " AND (SELECT count(*) FROM outbreak_cases c WHERE c.outbreak_id = o.outbreak_id)"
            " = 3",
            [SITE],
        ).fetchall(),
        until=lambda rows: len(rows) == 1,
        timeout=30,
        what="one site case file with the three cases",
    )
    assert (unit_id, rule_id) == (None, "outbreak.site_gastrointestinal_cluster")
    # No unit's own file: none of them reached its count.
    assert db.execute("SELECT count(*) FROM outbreaks WHERE site_id = %s", [SITE]).fetchone() == (
        1,
    )
    [(values,)] = db.execute(
        "SELECT \"values\" FROM alert_candidates WHERE subject = %s AND action = 'raise'",
        [f"site:{SITE}"],
    ).fetchall()
    assert (values["count"], values["residents"], values["units"]) == (3, 3, "osa,osb,osc")

    file = api.get(f"/api/v1/outbreaks/{oid}", headers=lead)
    assert file.status_code == 200, file.text
    assert file.json()["unit_id"] is None
    cases = {c["person_id"]: c["unit_id"] for c in file.json()["line_list"]}
    assert cases == sick
    # A site's file is for those who see the whole site.
    assert api.get(f"/api/v1/outbreaks/{oid}", headers=unit_nurse).status_code == 403

    # The alert service routes the site's cluster: an incident of the site, with no unit.
    incident = wait_for(
        lambda: db.execute(
            "SELECT site_id, unit_id, audience FROM incidents WHERE subject = %s"
            " AND audience = 'infection_control'",
            [f"site:{SITE}"],
        ).fetchall(),
        until=lambda rows: len(rows) == 1,
        timeout=30,
        what="the site's incident",
    )
    assert incident == [(SITE, None, "infection_control")]

    # Left unreported, the site's file escalates as the site's, like a unit's file.
    overdue = wait_for(
        lambda: db.execute(
            "SELECT i.site_id, i.unit_id FROM incidents i JOIN alerts a USING (incident_id)"
            " WHERE a.dedupe_key = %s",
            [f"outbreak.report_overdue:{oid}"],
        ).fetchall(),
        until=lambda rows: len(rows) == 1,
        timeout=30,
        what="the site file's overdue incident",
    )
    assert overdue == [(SITE, None)]
