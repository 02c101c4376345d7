"""Issue 18, the regions' admin through the API: an administrator of every site makes a region
and puts sites in it (or in none), and its regulator then reads those sites' figures; bad
input is refused and changes nothing; no one else manages regions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.alerting import store
from tests.support import Conn, login_as

MONTH = {"from": "2026-11-01", "to": "2026-11-30"}


def test_an_administrator_makes_a_region_and_its_regulator_reads_its_sites(
    api: TestClient, db: Conn
) -> None:
    db.execute(
        "INSERT INTO sites (site_id, name) VALUES ('rg-s1', 'Region site') ON CONFLICT DO NOTHING"
    )
    made = api.post("/api/v1/regions", json={"region_id": "rg-north", "name": "北区"})
    assert made.status_code == 201, made.text
    assert made.json() == {"region_id": "rg-north", "name": "北区"}
    again = api.post("/api/v1/regions", json={"region_id": "rg-north", "name": "Other"})
    assert again.status_code == 409, again.text
    assert db.execute("SELECT name FROM regions WHERE region_id = 'rg-north'").fetchone() == (
        "北区",
    )

    regulator = login_as(api, "rg-regulator", "regulator", region="rg-north")
    asked = {"site": "rg-s1"} | MONTH
    assert api.get("/api/v1/indicators", params=asked, headers=regulator).status_code == 403
    placed = api.put("/api/v1/sites/rg-s1/region", json={"region_id": "rg-north"})
    assert placed.status_code == 200, placed.text
    assert placed.json() == {"site_id": "rg-s1", "region_id": "rg-north"}
    assert api.get("/api/v1/indicators", params=asked, headers=regulator).status_code == 200
    region = api.get("/api/v1/indicators", params={"region": "rg-north"} | MONTH, headers=regulator)
    assert region.status_code == 200, region.text
    assert region.json()["sites"] == ["rg-s1"]

    out = api.put("/api/v1/sites/rg-s1/region", json={"region_id": None})
    assert out.status_code == 200, out.text
    assert api.get("/api/v1/indicators", params=asked, headers=regulator).status_code == 403
    audited = db.execute(
        "SELECT count(*) FROM audit_log WHERE action IN ('region.add', 'site.region')"
        " AND resource LIKE ANY (ARRAY['region/rg-north', 'site/rg-s1/%%'])"
    ).fetchone()
    assert audited == (3,)


def test_bad_regions_and_sites_are_refused_and_change_nothing(api: TestClient, db: Conn) -> None:
    db.execute(
        "INSERT INTO sites (site_id, name) VALUES ('rg-s2', 'Region site') ON CONFLICT DO NOTHING"
    )
    for body in ({"region_id": "bad id!", "name": "x"}, {"region_id": "rg-x", "name": ""},
                 {"region_id": "rg-x"}, {"region_id": "rg-x", "name": "a\x00b"}):  # fmt: skip
        refused = api.post("/api/v1/regions", json=body)
        assert refused.status_code == 422, (body, refused.text)
    assert db.execute("SELECT 1 FROM regions WHERE region_id = 'rg-x'").fetchone() is None
    nowhere = api.put("/api/v1/sites/rg-s2/region", json={"region_id": "rg-nowhere"})
    assert nowhere.status_code == 422, nowhere.text
    assert "no region 'rg-nowhere'" in nowhere.text
    assert db.execute("SELECT region_id FROM sites WHERE site_id = 'rg-s2'").fetchone() == (None,)
    no_site = api.put("/api/v1/sites/rg-none/region", json={"region_id": None})
    assert no_site.status_code == 404, no_site.text


def test_only_an_administrator_of_every_site_manages_regions(api: TestClient, db: Conn) -> None:
    db.execute(
        "INSERT INTO sites (site_id, name) VALUES ('rg-s3', 'Region site') ON CONFLICT DO NOTHING"
    )
    site_admin = login_as(api, "rg-site-admin", "admin", site="rg-s3")
    nurse = login_as(api, "rg-nurse", "nurse", site="rg-s3")
    api.post("/api/v1/regions", json={"region_id": "rg-east", "name": "东区"})
    regulator = login_as(api, "rg-regulator-2", "regulator", region="rg-east")
    for headers in (site_admin, nurse, regulator):
        made = api.post(
            "/api/v1/regions", json={"region_id": "rg-south", "name": "x"}, headers=headers
        )
        assert made.status_code == 403, made.text
        moved = api.put("/api/v1/sites/rg-s3/region", json={"region_id": None}, headers=headers)
        assert moved.status_code == 403, moved.text
    assert db.execute("SELECT 1 FROM regions WHERE region_id = 'rg-south'").fetchone() is None


def test_a_region_names_its_consortium_lead_hospital_from_the_care_team(
    api: TestClient, db: Conn
) -> None:
    """Region -> institutions -> units, plus the medical consortium's lead hospital: one of
    the care team's hospitals, named on the region's indicators."""
    made = api.post("/api/v1/regions", json={"region_id": "rg-lead", "name": "东区"})
    assert made.status_code in (201, 409), made.text
    # The current team, with the consortium's hospital added (other tests' entries kept).
    row = db.execute("SELECT document FROM care_team ORDER BY version DESC LIMIT 1").fetchone()
    document = dict(row[0]) if row else {}
    hospital = {"id": "rg-lead-hosp", "name": "区人民医院", "sites": ["rg-s9"],
                "channels": ["json://127.0.0.1:9/lead"]}  # fmt: skip
    others = [h for h in document.get("hospitals", []) if h["id"] != hospital["id"]]
    store(db, {**document, "hospitals": [*others, hospital]})

    unknown = api.put("/api/v1/regions/rg-lead/lead-hospital", json={"hospital_id": "rg-nope"})
    assert unknown.status_code == 422, unknown.text
    assert "rg-nope" in unknown.text
    nowhere = api.put("/api/v1/regions/rg-none/lead-hospital", json={"hospital_id": None})
    assert nowhere.status_code == 404, nowhere.text
    led = api.put("/api/v1/regions/rg-lead/lead-hospital", json={"hospital_id": "rg-lead-hosp"})
    assert led.status_code == 200, led.text
    lead = db.execute("SELECT lead_hospital_id FROM regions WHERE region_id = 'rg-lead'")
    assert lead.fetchone() == ("rg-lead-hosp",)

    regulator = login_as(api, "rg-lead-regulator", "regulator", region="rg-lead")
    read = api.get("/api/v1/indicators", params={"region": "rg-lead"} | MONTH, headers=regulator)
    assert read.status_code == 200, read.text
    assert read.json()["lead_hospital"] == {"id": "rg-lead-hosp", "name": "区人民医院"}
    cleared = api.put("/api/v1/regions/rg-lead/lead-hospital", json={"hospital_id": None})
    assert cleared.status_code == 200, cleared.text
    read = api.get("/api/v1/indicators", params={"region": "rg-lead"} | MONTH, headers=regulator)
    assert read.json()["lead_hospital"] is None
