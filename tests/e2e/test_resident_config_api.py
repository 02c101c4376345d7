"""A resident's effective rule configuration through the real API and database: overrides that
would not validate merged over the site's are refused naming the key, a legacy bad one keeps
the site's overrides, NEWS2 reads back as far as the freshness settings reach, the NEWS2
scale change is audited; and the detector does not page on a round's old reading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from tests.conftest import ServiceProcess
from tests.e2e.test_residents_api import manual_cursor
from tests.support import SITE, UNIT, Conn, count, login_as, wait_for

RESIDENTS = "/api/v1/residents"
CFG_SITE = "t-cfg"  # a site of its own: its overrides must not reach the other tests' ward
# The site's: heart rate counts for 30 s only, and NEWS2 >= 5 must hold 10 s (not 30).
SITE_OVERRIDES = {"news2": {"max_age_s": {"hr": 30}, "raise_after_s": {"medium": 10}}}
# Valid on the defaults (medium 30 s), not over the site's: high must not exceed medium.
CLASHING = {"news2": {"raise_after_s": {"high": 20}}}


LONG_ROUNDS = dict.fromkeys(("zero", "low", "low_medium", "medium", "high"), 30 * 3600)


@pytest.fixture
def cfg_site(db: Conn, ward: str) -> str:
    db.execute(
        "INSERT INTO sites (site_id, name, rule_overrides) VALUES (%s, 'Config site', %s)"
        " ON CONFLICT (site_id) DO UPDATE SET rule_overrides = excluded.rule_overrides",
        [CFG_SITE, Jsonb(SITE_OVERRIDES)],
    )
    db.execute("INSERT INTO units VALUES (%s, %s, 'Unit') ON CONFLICT DO NOTHING", [CFG_SITE, UNIT])
    return CFG_SITE


def admit(api: TestClient, site: str, **fields: Any) -> Any:
    body = {"site_id": site, "unit_id": UNIT, "display_name": "Config", **fields}
    return api.post(RESIDENTS, json=body)  # as the admin: every unit is in scope


def reading(db: Conn, rid: int, metric: str, value: float, age: timedelta, source: str) -> None:
    db.execute(
        "INSERT INTO readings (ts, device_id, resident_id, metric, value, source, received_at)"
        " VALUES (now() - %s, %s, %s, %s, %s, %s, now())",
        [age, f"cfg-{rid}", rid, metric, value, source],
    )


def test_an_override_that_fails_merged_with_the_sites_is_refused_naming_the_key(
    api: TestClient, db: Conn, cfg_site: str
) -> None:
    assert admit(api, SITE, rule_overrides=CLASHING).status_code == 201  # fine on defaults
    refused = admit(api, cfg_site, rule_overrides=CLASHING)
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["detail"]
    assert problem["loc"] == ["body", "rule_overrides", "news2", "raise_after_s"]
    assert problem["msg"].startswith("news2.raise_after_s: ")

    rid = admit(api, cfg_site).json()["resident_id"]
    patched = api.patch(f"{RESIDENTS}/{rid}", json={"rule_overrides": CLASHING})
    assert patched.status_code == 422, patched.text
    assert patched.json()["detail"][0]["loc"][:3] == ["body", "rule_overrides", "news2"]
    stored = db.execute("SELECT rule_overrides FROM residents WHERE resident_id = %s", [rid])
    assert stored.fetchone() == ({},)  # nothing else lost either
    fine = {"news2": {"raise_after_s": {"high": 5}}}
    assert api.patch(f"{RESIDENTS}/{rid}", json={"rule_overrides": fine}).status_code == 200


def test_a_legacy_bad_resident_override_keeps_the_sites_overrides(
    api: TestClient, db: Conn, cfg_site: str
) -> None:
    rid = admit(api, cfg_site).json()["resident_id"]
    # Stored before the API checked overrides merged: the API would refuse it now.
    db.execute(
        "UPDATE residents SET rule_overrides = %s WHERE resident_id = %s", [Jsonb(CLASHING), rid]
    )
    reading(db, rid, "hr", 118, timedelta(minutes=1), "vitals")
    news2 = api.get(f"{RESIDENTS}/{rid}/news2")
    assert news2.status_code == 200, news2.text
    # The site's 30 s heart-rate window still applies: a minute-old reading is stale.
    assert "hr" in news2.json()["missing"]


def test_news2_reads_back_as_far_as_an_override_keeps_a_reading(
    api: TestClient, db: Conn, ward: str
) -> None:
    # A window past a day, and rounds that count as long at every risk level (RCP's intervals
    # would otherwise retire the value after an hour: SBP 85 is a single 3).
    keep = {"news2": {"max_age_s": {"sbp": 30 * 3600}, "observe_every_s": LONG_ROUNDS}}
    long = admit(api, SITE, rule_overrides=keep).json()["resident_id"]
    plain = admit(api, SITE).json()["resident_id"]
    for rid in (long, plain):
        reading(db, rid, "sbp", 85, timedelta(hours=26), "manual")
    scored = {rid: api.get(f"{RESIDENTS}/{rid}/news2").json() for rid in (long, plain)}
    parts = {p["parameter"]: p for p in scored[long]["parts"]}
    assert "sbp" not in scored[long]["missing"] and parts["sbp"]["score"] == 3
    assert "sbp" in scored[plain]["missing"]


def test_a_news2_scale_change_is_audited_from_and_to(api: TestClient, db: Conn, ward: str) -> None:
    rid = admit(api, SITE).json()["resident_id"]
    assert api.patch(f"{RESIDENTS}/{rid}", json={"news2_scale": 2}).status_code == 200
    assert api.patch(f"{RESIDENTS}/{rid}", json={"news2_scale": 2}).status_code == 200
    assert api.patch(f"{RESIDENTS}/{rid}", json={"news2_scale": 1}).status_code == 200
    rows = db.execute(
        "SELECT actor, resource FROM audit_log WHERE resident_id = %s"
        " AND action = 'resident.news2_scale' ORDER BY audit_id",
        [rid],
    ).fetchall()
    assert [r[1] for r in rows] == [
        f"resident/{rid}/news2_scale/1->2",
        f"resident/{rid}/news2_scale/2->1",
    ]
    assert all(actor for actor, _ in rows)


def test_the_detector_does_not_page_on_a_rounds_reading_entered_hours_late(
    api: TestClient, db: Conn, ward: str, detector: ServiceProcess
) -> None:
    nurse = login_as(api, "cfg-nurse", "nurse", site=SITE, units=(UNIT,), staff="cfg-nurse")
    late = admit(api, SITE, display_name="Late entry").json()["resident_id"]
    timely = admit(api, SITE, display_name="Timely entry").json()["resident_id"]
    now = datetime.now(UTC)
    for rid, taken in ((late, now - timedelta(hours=9)), (timely, now - timedelta(minutes=5))):
        answer = api.post(
            f"{RESIDENTS}/{rid}/observations",
            json={"sbp": 85, "ts": taken.isoformat()},
            headers=nurse,
        )
        assert answer.status_code == 201, answer.text
    newest = count(db, "SELECT max(id) FROM manual_observations")
    # The cursor is committed with (after) the candidates of what it took in.
    wait_for(lambda: manual_cursor(db), until=lambda at: at >= newest, what="taken in")

    def raised(rid: int) -> int:
        return count(
            db,
            "SELECT count(*) FROM alert_candidates WHERE rule_id = 'vital.sbp.low'"
            " AND subject = %s AND action = 'raise'",
            f"resident:{rid}",
        )

    assert raised(timely) == 1  # the same value, within its freshness window, pages
    assert raised(late) == 0
