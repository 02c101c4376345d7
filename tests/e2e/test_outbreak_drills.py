"""Issue 18, drills through the real pipeline: one API call opens a case file marked as a
drill with made-up cases, its page goes out through the alert service marked 演练 (Chinese)
or DRILL, the API, the line list (JSON, CSV, XLSX) carry the mark, and the lead closes it
like any file."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, store, team
from tests.e2e.test_outbreaks_api import xlsx_rows
from tests.e2e.test_outbreaks_staff import _resident, _unit
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, Conn, login_as, wait_for

UNIT = "obd1"


def test_a_drill_runs_the_whole_flow_marked_as_a_drill_everywhere(
    db: Conn,
    api: TestClient,
    ward: str,
    settings: Settings,
    run_service: type[Running],
    http: HttpReceiver,
    smtp: SmtpReceiver,
    detector: ServiceProcess,
) -> None:
    _unit(db, UNIT)
    document = team(http, smtp)
    document["site_defaults"] = {"language": "zh-CN", "details": "full"}
    store(db, document)
    run_service(settings, tick_s=0.2)
    lead = login_as(api, "obd-lead", "nurse", site=SITE, units=(UNIT,), staff="obd-lead")
    carer = login_as(api, "obd-carer", "caregiver", site=SITE, units=(UNIT,))
    other = login_as(api, "obd-other", "nurse", site=SITE, units=("u1",))

    drill = {"unit_id": UNIT}
    assert api.post("/api/v1/outbreaks/drills", json=drill, headers=carer).status_code == 403
    assert api.post("/api/v1/outbreaks/drills", json=drill, headers=other).status_code == 403
    missing = api.post("/api/v1/outbreaks/drills", json={"unit_id": "nowhere"}, headers=lead)
    assert missing.status_code in (403, 404), missing.text
    started = api.post("/api/v1/outbreaks/drills", json=drill, headers=lead)
    assert started.status_code == 201, started.text
    opened = started.json()
    assert (opened["drill"], opened["status"], opened["syndrome"], opened["cases"]) == (
        True,
        "open",
        "gastrointestinal",
        3,
    )
    oid = opened["outbreak_id"]
    listed = api.get("/api/v1/outbreaks", headers=lead).json()["items"]
    assert [i["drill"] for i in listed if i["outbreak_id"] == oid] == [True]

    file = api.get(f"/api/v1/outbreaks/{oid}", headers=lead).json()
    assert file["drill"] is True
    assert sorted((c["person_id"], c["drill"], c["name"]) for c in file["line_list"]) == [
        (-3, True, None),
        (-2, True, None),
        (-1, True, None),
    ]
    exported = api.get(f"/api/v1/outbreaks/{oid}/line-list?format=csv", headers=lead)
    assert "drill-outbreak" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.content.decode().removeprefix("\ufeff"))))
    assert [r["drill"] for r in rows] == ["DRILL"] * 3
    sheet = api.get(f"/api/v1/outbreaks/{oid}/line-list?format=xlsx", headers=lead)
    assert xlsx_rows(sheet.content) == [dict(r) for r in rows]

    # The page: to infection control, marked as a drill in its title and first line.
    [page] = http.wait_until(
        lambda items: any(r.path == "/ic1" for r in items), 30, "the drill's page"
    )
    assert page.title.startswith("【演练】"), page.title
    assert page.body.splitlines()[0].startswith("演练"), page.body

    # One drill at a time; and a real cluster meanwhile opens its own file, never the drill's.
    again = api.post("/api/v1/outbreaks/drills", json=drill, headers=lead)
    assert again.status_code == 409, again.text
    for n in range(3):
        rid = _resident(db, f"Real {n}", UNIT)
        posted = api.post(
            f"/api/v1/residents/{rid}/symptoms", json={"symptoms": ["vomiting"]}, headers=lead
        )
        assert posted.status_code == 201, posted.text
    files = wait_for(
        lambda: db.execute(
            "SELECT o.drill, count(c.*) FROM outbreaks o JOIN outbreak_cases c USING (outbreak_id)"
            " WHERE o.site_id = %s AND o.unit_id = %s GROUP BY o.outbreak_id ORDER BY 1",
            [SITE, UNIT],
        ).fetchall(),
        until=lambda rows: len(rows) == 2,
        timeout=30,
        what="the real cluster's own file",
    )
    assert files == [(False, 3), (True, 3)]

    reported = api.post(
        f"/api/v1/outbreaks/{oid}/report", json={"reported_to": "演练：区疾控中心"}, headers=lead
    )
    assert reported.status_code == 200, reported.text
    assert (reported.json()["status"], reported.json()["drill"]) == ("reported", True)
