"""Family beds and family doctors (issue 17), through the API on the real database: a family
login sees exactly one resident's summary and only with the family consent; a family doctor's
caseload spans sites and follows the contracts in force; contract coverage per category."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.support import SITE, UNIT, Conn, login_as

RESIDENTS = "/api/v1/residents"
CONTRACTS = "/api/v1/family-doctor-contracts"


def place(db: Conn, site: str, unit: str = "h1", kind: str = "family_bed") -> None:
    db.execute(
        "INSERT INTO sites (site_id, name, kind) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        [site, f"Site {site}", kind],
    )
    db.execute("INSERT INTO units VALUES (%s, %s, 'Homes') ON CONFLICT DO NOTHING", [site, unit])


def admit(db: Conn, name: str, site: str = SITE, unit: str = UNIT, **columns: object) -> int:
    names = ["site_id", "unit_id", "display_name", *columns]
    row = db.execute(
        f"INSERT INTO residents ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
        " RETURNING resident_id",
        [site, unit, name, *columns.values()],
    ).fetchone()
    assert row is not None
    return int(row[0])


def consent(db: Conn, rid: int, granted: bool) -> None:
    db.execute(
        "INSERT INTO resident_consents (resident_id, kind, granted, recorded_by)"
        " VALUES (%s, 'family', %s, 'test')",
        [rid, granted],
    )


def alert(db: Conn, rid: int, site: str, unit: str, aid: int, outcome: str | None) -> None:
    """An alert of the resident, resolved with `outcome` (None: still open)."""
    resolved = "now()" if outcome else "NULL"
    db.execute(
        "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
        " severity, title, opened_at, updated_at) VALUES (%s, %s, %s, %s, %s, 'open', 'high',"
        " 'fall', now(), now())",
        [aid, f"resident:{rid}", site, unit, rid],
    )
    db.execute(
        "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject, resident_id,"
        " title, severity, opened_at, first_ts, last_ts, count, updated_at, outcome, resolved_at,"
        f" note) VALUES (%s, %s, 'fall.device', %s, 's', %s, 'Fall', 'high', now(), now(), now(),"
        f" 1, now(), %s, {resolved}, 'staff only: bruise on the left hip')",
        [aid, aid, f"fam{aid}", rid, outcome],
    )


def reading(db: Conn, rid: int, metric: str, value: float) -> None:
    db.execute(
        "INSERT INTO readings (ts, device_id, resident_id, metric, value, source, received_at)"
        " VALUES (now() - interval '5 minutes', %s, %s, %s, %s, 'manual', now())",
        [f"manual-{rid}", rid, metric, value],
    )


def local_today() -> date:
    """Contracts run by the resident's own date (residents' default zone: Asia/Shanghai)."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_a_family_login_sees_its_one_resident_only_with_the_family_consent(
    api: TestClient, db: Conn, ward: str
) -> None:
    place(db, "fam-a")
    mother = admit(db, "Zhao Min", "fam-a", "h1")
    neighbour = admit(db, "Qian Li", "fam-a", "h1")
    consent(db, neighbour, True)
    reading(db, mother, "hr", 72)
    alert(db, mother, "fam-a", "h1", 930_001, "false_alarm")
    alert(db, neighbour, "fam-a", "h1", 930_002, "actionable")
    family = login_as(api, "fam-son", "family", resident=mother)
    summary = f"{RESIDENTS}/{mother}/summary"

    # No consent recorded: refused, and nothing else is visible either.
    assert api.get(summary, headers=family).status_code == 403
    consent(db, mother, True)
    seen = api.get(summary, headers=family)
    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["resident_id"] == mother and body["display_name"] == "Zhao Min"
    assert body["latest"]["hr"]["value"] == 72
    assert [(a["alert_id"], a["outcome"]) for a in body["alerts"]] == [(930_001, "false_alarm")]
    assert "bruise" not in seen.text  # staff notes stay with the staff

    # Exactly one resident: not the neighbour (who consented), nor any list or record.
    assert api.get(f"{RESIDENTS}/{neighbour}/summary", headers=family).status_code == 403
    for path in (
        RESIDENTS,
        f"{RESIDENTS}/{mother}",
        f"{RESIDENTS}/{mother}/latest",
        f"{RESIDENTS}/{mother}/vitals?metric=hr",
        "/api/v1/alerts",
        "/api/v1/alerts/930001",
        "/api/v1/ward",
        CONTRACTS,
    ):
        assert api.get(path, headers=family).status_code == 403, path

    # Consent withdrawn: refused again at once.
    consent(db, mother, False)
    assert api.get(summary, headers=family).status_code == 403
    audited = db.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'resident.summary.read'"
        " AND resident_id = %s AND actor = 'fam-son'",
        [mother],
    ).fetchone()
    assert audited == (1,)


def test_a_family_login_needs_its_resident(api: TestClient, ward: str) -> None:
    made = api.post(
        "/api/v1/users",
        json={"username": "fam-nobody", "password": "long enough 123", "role": "family"},
    )
    assert made.status_code == 422 and "resident" in made.text


def contract(
    api: TestClient, rid: int, doctor: str, *, start: date, end: date, **more: object
) -> int:
    made = api.post(
        CONTRACTS,
        json={
            "resident_id": rid,
            "team": "社区卫生服务中心一组",
            "doctor": doctor,
            "start_on": start.isoformat(),
            "end_on": end.isoformat(),
            "service_package": "基础包",
            **more,
        },
    )
    assert made.status_code == 201, made.text
    return int(made.json()["contract_id"])


def test_a_family_doctors_caseload_spans_sites_and_follows_the_contracts(
    api: TestClient, db: Conn, ward: str
) -> None:
    place(db, "fd-a")
    place(db, "fd-b", kind="community_station")
    in_a = admit(db, "Sun Hua", "fd-a", "h1")
    in_b = admit(db, "Li Jun", "fd-b", "h1")
    lapsed = admit(db, "Zhou Qing", "fd-a", "h1")
    other = admit(db, "Wu Fang", "fd-b", "h1")
    doctor = login_as(api, "fd-wang", "family_doctor")
    login_as(api, "fd-other", "family_doctor")
    today = local_today()
    year = timedelta(days=365)
    contract(api, in_a, "fd-wang", start=today - year, end=today + year, category="aged_80_plus")
    contract(api, in_b, "fd-wang", start=today, end=today, category="disabled")
    contract(api, lapsed, "fd-wang", start=today - year * 2, end=today - timedelta(days=1))
    contract(api, other, "fd-other", start=today, end=today + year)

    listed = api.get("/api/v1/caseload", headers=doctor)
    assert listed.status_code == 200, listed.text
    assert {(e["resident_id"], e["site_id"]) for e in listed.json()["items"]} == {
        (in_a, "fd-a"),
        (in_b, "fd-b"),
    }
    # The caseload's records and trends, nobody else's; no site-wide lists.
    for rid in (in_a, in_b):
        assert api.get(f"{RESIDENTS}/{rid}/latest", headers=doctor).status_code == 200
        assert api.get(f"{RESIDENTS}/{rid}/summary", headers=doctor).status_code == 200
    for rid in (lapsed, other):
        assert api.get(f"{RESIDENTS}/{rid}/latest", headers=doctor).status_code == 403
    assert api.get(RESIDENTS, headers=doctor).json()["items"] == []
    mine = api.get(CONTRACTS, headers=doctor).json()["items"]
    assert {c["resident_id"] for c in mine} == {in_a, in_b, lapsed}
    # A round by the doctor goes through the manual-observation path.
    posted = api.post(f"{RESIDENTS}/{in_b}/observations", json={"sbp": 150}, headers=doctor)
    assert posted.status_code in (200, 201), posted.text
    assert (
        api.post(f"{RESIDENTS}/{other}/observations", json={"sbp": 150}, headers=doctor).status_code
        == 403
    )
    # Staff name the doctor and see the part of the caseload in their own scope.
    nurse = login_as(api, "fd-nurse-b", "nurse", site="fd-b")
    staff_view = api.get("/api/v1/caseload", params={"doctor": "fd-wang"}, headers=nurse)
    assert [e["resident_id"] for e in staff_view.json()["items"]] == [in_b]
    # Nor may a doctor be someone without the family_doctor role.
    login_as(api, "fd-plain-nurse", "nurse", site="fd-a")
    wrong = api.post(
        CONTRACTS,
        json={
            "resident_id": other,
            "team": "t",
            "doctor": "fd-plain-nurse",
            "start_on": today.isoformat(),
            "end_on": today.isoformat(),
            "service_package": "p",
        },
    )
    assert wrong.status_code == 422 and "family_doctor" in wrong.text


def test_contracts_can_be_changed_and_removed(api: TestClient, db: Conn, ward: str) -> None:
    place(db, "fd-c")
    rid = admit(db, "Zheng Yu", "fd-c", "h1")
    login_as(api, "fd-li", "family_doctor")
    today = local_today()
    cid = contract(api, rid, "fd-li", start=today, end=today + timedelta(days=30))
    renewed = api.patch(
        f"{CONTRACTS}/{cid}", json={"end_on": (today + timedelta(days=395)).isoformat()}
    )
    assert renewed.status_code == 200 and renewed.json()["end_on"] == str(
        today + timedelta(days=395)
    )
    backwards = api.patch(
        f"{CONTRACTS}/{cid}", json={"end_on": (today - timedelta(days=1)).isoformat()}
    )
    assert backwards.status_code == 422
    outside = login_as(api, "fd-c-outsider", "nurse", site=SITE)
    assert api.get(f"{CONTRACTS}/{cid}", headers=outside).status_code == 403
    assert api.delete(f"{CONTRACTS}/{cid}").status_code == 204
    assert api.get(f"{CONTRACTS}/{cid}").status_code == 404


def test_coverage_per_category_against_the_target(api: TestClient, db: Conn, ward: str) -> None:
    place(db, "cov-a", kind="community_station")
    place(db, "cov-b")  # another site's contracted resident counts nowhere here
    login_as(api, "cov-doc", "family_doctor")
    today = local_today()
    old = today.replace(year=today.year - 85)
    # (special needs, birth date, under a contract in force)
    people = [
        (["disabled"], None, True),
        (["disabled"], None, True),
        (["disabled"], None, True),
        (["disabled"], None, True),
        (["disabled"], None, False),
        (["disabled", "special_difficulty"], old, True),
        ([], old, False),  # 80+ by birth date alone
        (["aged_80_plus"], None, True),
        (["special_difficulty"], None, False),
        ([], None, True),  # in no category
    ]
    for n, (needs, born, contracted) in enumerate(people):
        rid = admit(db, f"Cov {n}", "cov-a", "h1", birth_date=born)
        put = api.put(f"{RESIDENTS}/{rid}/home-care", json={"special_needs": needs})
        assert put.status_code == 200, put.text
        start = today if contracted else today - timedelta(days=400)
        end = today + timedelta(days=10) if contracted else today - timedelta(days=35)
        contract(api, rid, "cov-doc", start=start, end=end)
    gone = admit(db, "Cov gone", "cov-a", "h1", status="deceased", special_needs=["disabled"])
    contract(api, gone, "cov-doc", start=today, end=today)
    away = admit(db, "Cov away", "cov-b", "h1", special_needs=["disabled"])
    contract(api, away, "cov-doc", start=today, end=today)

    def of(category: str, entry: tuple[list[str], date | None, bool]) -> bool:
        needs, born, _ = entry
        return category in needs or (category == "aged_80_plus" and born is not None)

    expected: dict[str, tuple[int, int]] = {}
    for category in ("disabled", "aged_80_plus", "special_difficulty"):
        members = [p for p in people if of(category, p)]
        expected[category] = (len(members), sum(1 for p in members if p[2]))
    assert expected == {"disabled": (6, 5), "aged_80_plus": (3, 2), "special_difficulty": (2, 1)}

    answer = api.get("/api/v1/sites/cov-a/contract-coverage")
    assert answer.status_code == 200, answer.text
    got = {e["category"]: e for e in answer.json()["items"]}
    for category, (total, signed) in expected.items():
        entry = got[category]
        assert (entry["residents"], entry["contracted"]) == (total, signed), category
        assert entry["rate"] == signed / total and entry["target"] == 0.8
        assert entry["meets_target"] is (signed / total >= 0.8)
    assert got["disabled"]["meets_target"] is True  # 5/6
    assert got["special_difficulty"]["meets_target"] is False  # 1/2
    elsewhere = login_as(api, "cov-nurse-b", "nurse", site="cov-b")
    assert api.get("/api/v1/sites/cov-a/contract-coverage", headers=elsewhere).status_code == 403
    assert api.get("/api/v1/sites/cov-none/contract-coverage").status_code == 404


def test_an_administrator_sets_a_sites_kind(api: TestClient, db: Conn, ward: str) -> None:
    place(db, "kind-a", kind="institution")
    rid = admit(db, "Feng Yi", "kind-a", "h1")
    assert api.get(f"{RESIDENTS}/{rid}/home-care").json()["site_kind"] == "institution"
    changed = api.put("/api/v1/sites/kind-a/kind", json={"kind": "family_bed"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"site_id": "kind-a", "name": "Site kind-a", "kind": "family_bed"}
    assert api.get(f"{RESIDENTS}/{rid}/home-care").json()["site_kind"] == "family_bed"
    assert api.put("/api/v1/sites/kind-a/kind", json={"kind": "hotel"}).status_code == 422
    assert api.put("/api/v1/sites/kind-none/kind", json={"kind": "family_bed"}).status_code == 404
    nurse = login_as(api, "kind-nurse", "nurse", site="kind-a")
    refused = api.put("/api/v1/sites/kind-a/kind", json={"kind": "institution"}, headers=nurse)
    assert refused.status_code == 403
