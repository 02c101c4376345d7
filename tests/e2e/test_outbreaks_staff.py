"""Issue 18, staff in outbreak surveillance, through the real pipeline: a member of staff's
health check-in (API) with vomiting counts in the unit they work in, so two residents and one
member of staff make ONE gastrointestinal case file, whose line list (JSON, CSV, XLSX) holds
exactly those three; and who with a shift today has not checked in."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from services.careteam.team import load_care_team
from tests.conftest import ServiceProcess
from tests.e2e.test_outbreaks_api import XLSX, xlsx_rows
from tests.support import SITE, Conn, login_as, wait_for

UNIT = "obs1"  # a unit of its own: no other test's people in its clusters


def _unit(db: Conn, unit: str) -> None:
    db.execute(
        "INSERT INTO units VALUES (%s, %s, 'Outbreak unit') ON CONFLICT DO NOTHING", [SITE, unit]
    )
    db.commit()


def _resident(db: Conn, name: str, unit: str) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, %s, %s)"
        " RETURNING resident_id",
        [SITE, unit, name],
    ).fetchone()
    assert row is not None
    db.commit()
    return int(row[0])


def test_two_residents_and_one_member_of_staff_make_one_gastrointestinal_case_file(
    db: Conn, api: TestClient, ward: str, detector: ServiceProcess
) -> None:
    _unit(db, UNIT)
    sick = {
        _resident(db, "周桂兰", UNIT): ["vomiting"],
        _resident(db, "吴建国", UNIT): ["diarrhoea"],
    }
    nurse = login_as(api, "obs-nurse", "nurse", site=SITE, units=(UNIT,), staff="obs-nurse")
    carer = login_as(api, "obs-carer", "caregiver", site=SITE, units=(UNIT,), staff="obs-cg")
    well = login_as(api, "obs-well", "caregiver", site=SITE, units=(UNIT,), staff="obs-well")
    for rid, symptoms in sick.items():
        posted = api.post(
            f"/api/v1/residents/{rid}/symptoms", json={"symptoms": symptoms}, headers=nurse
        )
        assert posted.status_code == 201, posted.text

    bad = api.post("/api/v1/staff-checkins", json={"temperature": 51}, headers=carer)
    assert bad.status_code == 422, bad.text
    outside = api.post(
        "/api/v1/staff-checkins", json={"temperature": 36.5, "unit_id": "u1"}, headers=carer
    )
    assert outside.status_code == 422, outside.text  # not a unit of theirs
    fine = api.post("/api/v1/staff-checkins", json={"temperature": 36.4}, headers=well)
    assert fine.status_code == 201, fine.text
    checked = api.post(
        "/api/v1/staff-checkins",
        json={"temperature": 37.2, "symptoms": ["vomiting"]},
        headers=carer,
    )
    assert checked.status_code == 201, checked.text
    entry = checked.json()
    assert (entry["staff_id"], entry["unit_id"], entry["symptoms"]) == (
        "obs-cg",
        UNIT,
        ["vomiting"],
    )
    # Only the check-in with a sign goes to the detector's feed.
    fed = db.execute(
        "SELECT count(*) FROM symptom_observations s JOIN staff_people p"
        " ON p.person_id = s.staff_person WHERE p.staff_id = ANY(%s)",
        [["obs-cg", "obs-well"]],
    ).fetchone()
    assert fed == (1,)

    def files() -> list[tuple[int, int]]:
        return db.execute(
            "SELECT o.outbreak_id, count(c.*) FROM outbreaks o LEFT JOIN outbreak_cases c"
            " USING (outbreak_id) WHERE o.site_id = %s AND o.unit_id = %s GROUP BY 1",
            [SITE, UNIT],
        ).fetchall()

    [(oid, _)] = wait_for(
        files,
        until=lambda rows: len(rows) == 1 and rows[0][1] == 3,
        timeout=30,
        what="one case file with the three cases",
    )
    [(values,)] = db.execute(
        "SELECT \"values\" FROM alert_candidates WHERE subject = %s AND action = 'raise'",
        [f"unit:{SITE}/{UNIT}"],
    ).fetchall()
    assert (values["count"], values["residents"], values["staff"]) == (3, 2, 1)

    file = api.get(f"/api/v1/outbreaks/{oid}", headers=nurse).json()
    staff_person = db.execute(
        "SELECT person_id FROM staff_people WHERE staff_id = 'obs-cg'"
    ).fetchone()
    assert staff_person is not None
    expected = {("resident", rid) for rid in sick} | {("staff", staff_person[0])}
    assert {(c["person_kind"], c["person_id"]) for c in file["line_list"]} == expected
    [staff_case] = [c for c in file["line_list"] if c["person_kind"] == "staff"]
    assert (staff_case["name"], staff_case["unit_id"], staff_case["signs"]) == (
        "obs-cg",  # no roster entry: the roster id
        UNIT,
        ["vomiting"],
    )
    assert staff_case["temperature"] == 37.2

    exported = api.get(f"/api/v1/outbreaks/{oid}/line-list?format=csv", headers=nurse)
    rows = list(csv.DictReader(io.StringIO(exported.content.decode().removeprefix("\ufeff"))))
    assert {(r["person_kind"], int(r["person_id"])) for r in rows} == expected
    sheet = api.get(f"/api/v1/outbreaks/{oid}/line-list?format=xlsx", headers=nurse)
    assert sheet.headers["content-type"] == XLSX
    assert xlsx_rows(sheet.content) == [dict(r) for r in rows]


def _team(*shifts: tuple[str, str]) -> dict[str, Any]:
    return {
        "staff": [
            {"id": sid, "name": name, "role": "caregiver", "channels": ["json://127.0.0.1:9/x"]}
            for sid, name in shifts
        ],
        "shifts": [
            {"staff": sid, "site": SITE, "start": "00:00", "end": "23:59", "units": ["obs2"]}
            for sid, _ in shifts
        ],
    }


def test_the_day_list_shows_who_with_a_shift_has_not_checked_in(
    db: Conn, api: TestClient, ward: str
) -> None:
    _unit(db, "obs2")
    document = load_care_team(_team(("obs-a", "甲护理员"), ("obs-b", "乙护理员")))
    row = db.execute(
        "INSERT INTO care_team (document, stored_by) VALUES (%s, 'test') RETURNING version",
        [Jsonb(document.model_dump(mode="json"))],
    ).fetchone()
    assert row is not None
    db.commit()
    try:
        a = login_as(api, "obs-a", "caregiver", site=SITE, staff="obs-a")
        lead = login_as(api, "obs-lead", "nurse", site=SITE, units=("obs2",))
        carer = login_as(api, "obs-cg2", "caregiver", site=SITE, units=("obs2",))
        # No unit given: the roster's shift says obs2.
        done = api.post("/api/v1/staff-checkins", json={"temperature": 36.7}, headers=a)
        assert done.status_code == 201, done.text
        assert (done.json()["unit_id"], done.json()["name"]) == ("obs2", "甲护理员")
        assert api.get("/api/v1/staff-checkins", headers=carer).status_code == 403
        day = api.get("/api/v1/staff-checkins", headers=lead)
        assert day.status_code == 200, day.text
        body = day.json()
        assert "obs-a" in {c["staff_id"] for c in body["checked_in"]}
        missing = {m["staff_id"]: m for m in body["missing"]}
        assert "obs-a" not in missing
        assert missing["obs-b"]["name"] == "乙护理员" and missing["obs-b"]["late"] is True
        assert missing["obs-b"]["units"] == ["obs2"]
    finally:
        db.execute("DELETE FROM care_team WHERE version = %s", [row[0]])
        db.commit()
