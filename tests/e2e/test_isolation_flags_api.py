"""Issue 18: isolation and cohort flags on residents and units, set and cleared through the
API by a nurse, each change audited, listed for the board and the ward views; scoped like
every route."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.test_outbreaks_staff import _resident, _unit
from tests.support import SITE, Conn, login_as

UNIT = "obi1"


def test_flags_are_set_listed_and_cleared_with_audit(db: Conn, api: TestClient, ward: str) -> None:
    _unit(db, UNIT)
    rid = _resident(db, "隔离长者", UNIT)
    nurse = login_as(api, "obi-nurse", "nurse", site=SITE, units=(UNIT,), staff="obi-nurse")
    carer = login_as(api, "obi-carer", "caregiver", site=SITE, units=(UNIT,))
    other = login_as(api, "obi-other", "nurse", site=SITE, units=("u1",))
    isolate = {"kind": "isolation", "reason": "呕吐，待排诺如", "resident_id": rid}
    cohort = {"kind": "cohort", "reason": "胃肠道聚集", "unit_id": UNIT}

    assert api.post("/api/v1/isolation-flags", json=isolate, headers=carer).status_code == 403
    assert api.post("/api/v1/isolation-flags", json=isolate, headers=other).status_code == 403
    assert api.post("/api/v1/isolation-flags", json=cohort, headers=other).status_code == 403
    neither = api.post(
        "/api/v1/isolation-flags", json={"kind": "cohort", "reason": "x"}, headers=nurse
    )
    assert neither.status_code == 422, neither.text
    one = api.post("/api/v1/isolation-flags", json=isolate, headers=nurse)
    assert one.status_code == 201, one.text
    assert (one.json()["unit_id"], one.json()["resident_name"]) == (UNIT, "隔离长者")
    again = api.post("/api/v1/isolation-flags", json=isolate, headers=nurse)
    assert again.status_code == 409, again.text
    unit = api.post("/api/v1/isolation-flags", json=cohort, headers=nurse)
    assert unit.status_code == 201, unit.text

    def listed(headers: dict[str, str]) -> list[tuple[str, int | None]]:
        answer = api.get("/api/v1/isolation-flags", params={"unit": UNIT}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [(f["kind"], f["resident_id"]) for f in answer.json()["items"]]

    assert listed(carer) == [("cohort", None), ("isolation", rid)]
    assert listed(other) == []  # another unit's nurse sees none of them

    flag_id = one.json()["flag_id"]
    assert api.post(f"/api/v1/isolation-flags/{flag_id}/clear", headers=other).status_code == 403
    cleared = api.post(f"/api/v1/isolation-flags/{flag_id}/clear", headers=nurse)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["cleared_by"] == "obi-nurse"
    twice = api.post(f"/api/v1/isolation-flags/{flag_id}/clear", headers=nurse)
    assert twice.status_code == 409, twice.text
    assert listed(carer) == [("cohort", None)]
    audited = db.execute(
        "SELECT action FROM audit_log WHERE resource = %s ORDER BY audit_id",
        [f"isolation/{flag_id}"],
    ).fetchall()
    assert audited == [("isolation.set.isolation",), ("isolation.clear.isolation",)]
