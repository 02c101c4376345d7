"""Status over time (issue 17): admitted, in hospital (monitoring paused, devices kept),
discharged or deceased (monitoring ended, devices released, data kept), each change kept with
who and when. Through the real detector: a fall from the device of a resident in hospital
raises nothing, the same fall of a resident admitted does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ServiceProcess
from tests.support import SITE, UNIT, Conn, Device, candidates, login_as, new_resident, wait_for

RESIDENTS = "/api/v1/residents"


def move(api: TestClient, rid: int, status: str, headers: dict[str, str] | None = None) -> Any:
    return api.post(
        f"{RESIDENTS}/{rid}/status", json={"status": status, "note": "test"}, headers=headers or {}
    )


def test_a_discharge_releases_the_devices_and_keeps_the_record(
    api: TestClient, db: Conn, make_device: Callable[..., Device]
) -> None:
    rid = new_resident(db, "Lu Ping")
    db.commit()
    device = make_device(resident_id=rid)
    nurse = login_as(api, "st-nurse", "nurse", site=SITE, units=(UNIT,))
    caregiver = login_as(api, "st-cg", "caregiver", site=SITE, units=(UNIT,))
    assert move(api, rid, "in_hospital", caregiver).status_code == 403

    away = move(api, rid, "in_hospital", nurse)
    assert away.status_code == 200, away.text
    assert away.json()["released_devices"] == []  # kept while in hospital
    assert [d["device_id"] for d in api.get(f"{RESIDENTS}/{rid}").json()["devices"]] == [
        device.device_id
    ]
    # The board leaves out a resident who is not being monitored; the list marks them.
    assert rid not in [r["resident_id"] for r in api.get("/api/v1/ward").json()["items"]]
    listed = {
        r["resident_id"]: r for r in api.get(RESIDENTS, params={"limit": 500}).json()["items"]
    }
    assert listed[rid]["status"] == "in_hospital"

    back = move(api, rid, "admitted", nurse)
    assert back.status_code == 200
    assert rid in [r["resident_id"] for r in api.get("/api/v1/ward").json()["items"]]
    gone = move(api, rid, "discharged", nurse).json()
    assert gone["released_devices"] == [device.device_id]
    assert [(h["status"], h["set_by"]) for h in gone["history"]] == [
        ("discharged", "st-nurse"),
        ("admitted", "st-nurse"),
        ("in_hospital", "st-nurse"),
    ]
    profile = api.get(f"{RESIDENTS}/{rid}").json()
    assert profile["status"] == "discharged" and profile["devices"] == []
    # The device is free for someone else; its past stays the resident's.
    row = db.execute(
        "SELECT count(*) FROM device_assignments WHERE device_id = %s AND resident_id = %s"
        " AND NOT upper_inf(during)",
        [device.device_id, rid],
    ).fetchone()
    db.commit()
    assert row == (1,)
    audited = db.execute(
        "SELECT resource FROM audit_log WHERE action = 'resident.status' AND resident_id = %s"
        " ORDER BY audit_id",
        [rid],
    ).fetchall()
    db.commit()
    assert [r for (r,) in audited][-1] == f"resident/{rid}/status/admitted->discharged"

    assert move(api, rid, "deceased", nurse).status_code == 200
    final = move(api, rid, "admitted", nurse)
    assert final.status_code == 409 and "deceased" in final.text
    bad = move(api, rid, "asleep", nurse)
    assert bad.status_code == 422 and "status" in bad.text


def test_a_fall_of_a_resident_in_hospital_raises_nothing(
    api: TestClient, db: Conn, make_device: Callable[..., Device], detector: ServiceProcess
) -> None:
    away = new_resident(db, "Away Resident")
    here = new_resident(db, "Here Resident")
    db.commit()
    assert move(api, away, "in_hospital").status_code == 200
    away_device = make_device(resident_id=away)
    here_device = make_device(resident_id=here)
    for device in (away_device, here_device):  # the away one first: processed first
        device.publish(
            f"carewatch/v1/t1/{device.device_id}/event",
            {"ts": int(time.time() * 1000), "type": "fall", "confidence": 0.9},
        )
    wait_for(
        lambda: candidates(db, here),
        until=lambda c: any(rule.startswith("fall") for rule, _ in c),
        timeout=15,
        what="the admitted resident's fall",
    )
    assert candidates(db, away) == []
