"""Issue 18, first slice, through the real pipeline: symptoms charted on rounds (API) → the
detector's gastrointestinal cluster rule → one outbreak case file with its line list (JSON and
CSV) → marked reported by an infection-control lead, which closes it."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.conftest import ServiceProcess
from tests.support import SITE, Conn, login_as, wait_for

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNIT = "ob1"  # a unit of its own: no other test's residents in its clusters


def xlsx_rows(content: bytes) -> list[dict[str, str]]:
    """A line list workbook's rows as the CSV reader gives them (header -> text)."""
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    assert sheet is not None
    header, *rows = [
        ["" if v is None else str(v) for v in r] for r in sheet.iter_rows(values_only=True)
    ]
    return [dict(zip(header, r, strict=True)) for r in rows]


def _resident(db: Conn, name: str, unit: str = UNIT) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, %s, %s)"
        " RETURNING resident_id",
        [SITE, unit, name],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_gastrointestinal_cluster_opens_one_case_file_until_it_is_reported(
    db: Conn, api: TestClient, ward: str, detector: ServiceProcess
) -> None:
    for unit in (UNIT, "ob2"):
        db.execute(
            "INSERT INTO units VALUES (%s, %s, 'Outbreak unit') ON CONFLICT DO NOTHING",
            [SITE, unit],
        )
    sick = {
        _resident(db, "王秀英"): ["vomiting"],
        _resident(db, "=Li Na"): ["diarrhoea", "rash"],
        _resident(db, "Zhao Lei"): ["vomiting", "diarrhoea"],
    }
    rash_only = _resident(db, "Sun Hua")
    elsewhere = _resident(db, "Qian Bo", unit="ob2")
    nurse = login_as(api, "ob-nurse", "nurse", site=SITE, units=(UNIT,), staff="ob-nurse")
    other = login_as(api, "ob-nurse2", "nurse", site=SITE, units=("ob2",))
    carer = login_as(api, "ob-carer", "caregiver", site=SITE, units=(UNIT,))

    bad = api.post(
        f"/api/v1/residents/{rash_only}/symptoms", json={"symptoms": ["sneezing"]}, headers=nurse
    )
    assert bad.status_code == 422, bad.text
    for rid, symptoms in [
        *sick.items(),
        (rash_only, ["rash", "new_confusion"]),
        (elsewhere, ["vomiting"]),
    ]:
        headers = other if rid == elsewhere else nurse
        posted = api.post(
            f"/api/v1/residents/{rid}/symptoms", json={"symptoms": symptoms}, headers=headers
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["symptoms"] == sorted(symptoms)
    stored = db.execute(
        "SELECT count(*) FROM symptom_observations WHERE resident_id = ANY(%s)",
        [[*sick, rash_only, elsewhere]],
    ).fetchone()
    assert stored == (5,)  # the bad post stored nothing

    def files() -> list[dict[str, object]]:
        listed = api.get("/api/v1/outbreaks", headers=nurse)
        assert listed.status_code == 200, listed.text
        items: list[dict[str, object]] = listed.json()["items"]
        return [i for i in items if i["unit_id"] == UNIT]

    [opened] = wait_for(
        files,
        until=lambda items: len(items) == 1 and items[0]["cases"] == 3,
        timeout=30,
        what="the case file with three cases",
    )
    assert (opened["syndrome"], opened["status"]) == ("gastrointestinal", "open")
    assert opened["rule_id"] == "outbreak.gastrointestinal_cluster"
    oid = opened["outbreak_id"]
    # The alert that goes out by page carries counts, never who.
    [(values,)] = db.execute(
        "SELECT \"values\" FROM alert_candidates WHERE subject = %s AND action = 'raise'",
        [f"unit:{SITE}/{UNIT}"],
    ).fetchall()
    assert (values["count"], values["residents"], values["staff"]) == (3, 3, 0)
    assert set(values) == {
        "syndrome", "count", "residents", "staff", "window_h", "first_onset", "last_onset"
    }  # fmt: skip
    # Scoped like every route: a nurse of another unit neither sees nor reads it.
    assert all(
        i["outbreak_id"] != oid for i in api.get("/api/v1/outbreaks", headers=other).json()["items"]
    )
    assert api.get(f"/api/v1/outbreaks/{oid}", headers=other).status_code == 403

    file = api.get(f"/api/v1/outbreaks/{oid}", headers=nurse).json()
    assert {(c["person_kind"], c["person_id"]) for c in file["line_list"]} == {
        ("resident", rid) for rid in sick
    }
    for case in file["line_list"]:
        assert sorted(case["signs"]) == sorted(sick[case["person_id"]])
        assert case["unit_id"] == UNIT and case["temperature"] is None

    as_json = api.get(f"/api/v1/outbreaks/{oid}/line-list", headers=nurse)
    assert as_json.json()["items"] == file["line_list"]
    assert api.get("/api/v1/outbreaks/987654321", headers=nurse).status_code == 404

    exported = api.get(
        f"/api/v1/outbreaks/{oid}/line-list", params={"format": "csv"}, headers=nurse
    )
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    text = exported.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert {int(r["person_id"]): r["name"] for r in rows} == {
        rid: name for rid, name in zip(sick, ("王秀英", "'=Li Na", "Zhao Lei"), strict=True)
    }
    assert {r["signs"] for r in rows} == {" ".join(sorted(s)) for s in sick.values()}
    # The same rows as a workbook (a name like a formula stays text there too).
    sheet = api.get(f"/api/v1/outbreaks/{oid}/line-list", params={"format": "xlsx"}, headers=nurse)
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"] == XLSX
    assert xlsx_rows(sheet.content) == [dict(r) for r in rows]

    refused = api.post(
        f"/api/v1/outbreaks/{oid}/report", json={"reported_to": "CDC"}, headers=carer
    )
    assert refused.status_code == 403, refused.text
    reported = api.post(
        f"/api/v1/outbreaks/{oid}/report",
        json={"reported_to": "区疾控中心", "reference": "GI-2026-17"},
        headers=nurse,
    )
    assert reported.status_code == 200, reported.text
    closed = reported.json()
    assert (closed["status"], closed["reported_to"], closed["reference"]) == (
        "reported",
        "区疾控中心",
        "GI-2026-17",
    )
    assert closed["closed_by"] == "ob-nurse" and closed["reported_at"] is not None
    again = api.post(f"/api/v1/outbreaks/{oid}/rule-out", json={"reason": "x"}, headers=nurse)
    assert again.status_code == 409, again.text
    still_open = api.get("/api/v1/outbreaks", params={"status": "open"}, headers=nurse).json()
    assert all(i["outbreak_id"] != oid for i in still_open["items"])


def test_a_cluster_half_counted_survives_a_detector_crash(
    db: Conn, api: TestClient, ward: str, detector: ServiceProcess
) -> None:
    unit = "ob3"
    db.execute(
        "INSERT INTO units VALUES (%s, %s, 'Outbreak unit') ON CONFLICT DO NOTHING", [SITE, unit]
    )
    ids = [_resident(db, f"Crash {n}", unit=unit) for n in range(3)]
    nurse = login_as(api, "ob-nurse3", "nurse", site=SITE, units=(unit,))

    def post(rid: int) -> None:
        posted = api.post(
            f"/api/v1/residents/{rid}/symptoms", json={"symptoms": ["vomiting"]}, headers=nurse
        )
        assert posted.status_code == 201, posted.text

    post(ids[0])
    post(ids[1])
    subject = f"cluster:{SITE}/{unit}/gastrointestinal"
    wait_for(
        lambda: db.execute(
            "SELECT jsonb_array_length(doc->'cases') FROM detector_snapshots WHERE subject = %s",
            [subject],
        ).fetchall(),
        until=lambda rows: rows == [(2,)],
        timeout=30,
        what="the two cases in the unit's snapshot",
    )
    detector.kill()
    detector.start()  # resumes from its snapshots: two cases already counted
    post(ids[2])
    files = wait_for(
        lambda: db.execute(
            "SELECT o.outbreak_id, count(c.*) FROM outbreaks o JOIN outbreak_cases c"
            " USING (outbreak_id) WHERE o.site_id = %s AND o.unit_id = %s GROUP BY 1",
            [SITE, unit],
        ).fetchall(),
        until=lambda rows: len(rows) == 1 and rows[0][1] == 3,
        timeout=30,
        what="one case file with all three cases",
    )
    assert len(files) == 1
    raised = db.execute(
        "SELECT count(*) FROM alert_candidates WHERE subject = %s AND action = 'raise'",
        [f"unit:{SITE}/{unit}"],
    ).fetchone()
    assert raised == (1,)
    ruled_out = api.post(
        f"/api/v1/outbreaks/{files[0][0]}/rule-out",
        json={"reason": "one kitchen's meal, not spread"},
        headers=nurse,
    )
    assert ruled_out.status_code == 200, ruled_out.text
    assert (ruled_out.json()["status"], ruled_out.json()["note"]) == (
        "ruled_out",
        "one kitchen's meal, not spread",
    )
