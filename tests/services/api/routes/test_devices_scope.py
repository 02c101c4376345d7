"""A device manager bound to a site manages that site's devices only: an integrator of one
site neither lists, reads, provisions, assigns, retires nor reads the rejections of another
site's devices. Through the real app, broker and database."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.support import UNIT, Conn, login_as

pytestmark = pytest.mark.usefixtures("ward")

DEVICES = "/api/v1/devices"


def site_with_resident(db: Conn) -> tuple[str, int]:
    site = f"ds-{uuid.uuid4().hex[:8]}"
    db.execute("INSERT INTO sites VALUES (%s, 'Scope test')", [site])
    db.execute("INSERT INTO units VALUES (%s, %s, 'Unit')", [site, UNIT])
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, %s, 'R')"
        " RETURNING resident_id",
        [site, UNIT],
    ).fetchone()
    assert row is not None
    return site, int(row[0])


def provision(api: TestClient, site: str) -> str:
    device_id = f"ds-{uuid.uuid4().hex[:10]}"
    made = api.post(DEVICES, json={"device_id": device_id, "site_id": site, "kind": "wearable"})
    assert made.status_code == 201, made.text
    return device_id


def test_an_integrator_of_one_site_cannot_reach_another_sites_devices(
    api: TestClient, db: Conn
) -> None:
    home, home_resident = site_with_resident(db)
    other, other_resident = site_with_resident(db)
    mine, theirs = provision(api, home), provision(api, other)
    me = login_as(api, f"int-{home}", "integrator", site=home)

    listed = api.get(DEVICES, headers=me).json()["items"]
    assert {d["device_id"] for d in listed} == {mine}
    assert api.get(DEVICES, params={"site": other}, headers=me).json()["items"] == []

    assert api.get(f"{DEVICES}/{mine}", headers=me).status_code == 200
    assign = {"resident_id": home_resident}
    assert api.put(f"{DEVICES}/{mine}/resident", json=assign, headers=me).status_code == 204

    refused = [
        api.get(f"{DEVICES}/{theirs}", headers=me),
        api.get(f"{DEVICES}/{theirs}/dead-letters", headers=me),
        api.put(f"{DEVICES}/{theirs}/resident", json={"resident_id": other_resident}, headers=me),
        api.post(f"{DEVICES}/{theirs}/retire", headers=me),
        api.post(
            DEVICES,
            json={"device_id": f"ds-{uuid.uuid4().hex[:10]}", "site_id": other, "kind": "wearable"},
            headers=me,
        ),
    ]
    assert [r.status_code for r in refused] == [403] * 5, [r.text for r in refused]
    row = db.execute(
        "SELECT retired_at IS NULL, (SELECT count(*) FROM device_assignments a"
        " WHERE a.device_id = d.device_id) FROM devices d WHERE device_id = %s",
        [theirs],
    ).fetchone()
    assert row == (True, 0)  # nothing changed at the other site

    # An administrator bound to no site still manages every site's devices.
    assert {mine, theirs} <= {d["device_id"] for d in api.get(DEVICES).json()["items"]}
