"""Device management by place (docs/api.md, Integrators): a device manager bound to a site
manages that site's devices; no site is every site only for an admin, so an integrator bound to
no site manages none (an empty list, 403 on a device), through the API on the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from services.auth.principal import Principal
from services.auth.tokens import TokenSigner
from services.settings import Settings, admin_token
from tests.support import Conn

pytestmark = pytest.mark.services

DEVICES = {"ds-a-wrist": "dsa", "ds-b-wrist": "dsb"}


def bearer(settings: Settings, principal: Principal) -> dict[str, str]:
    token = TokenSigner(admin_token(settings)).issue(principal, now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def two_sites(db: Conn) -> None:
    for device_id, site in DEVICES.items():
        db.execute("INSERT INTO sites VALUES (%s, 'Device scope') ON CONFLICT DO NOTHING", [site])
        db.execute(
            "INSERT INTO devices (device_id, site_id, kind, secret_hash) VALUES"
            " (%s, %s, 'wearable', 'unused') ON CONFLICT DO NOTHING",
            [device_id, site],
        )


def _listed(api: TestClient, headers: dict[str, str], query: str = "") -> set[str]:
    answer = api.get(f"/api/v1/devices?limit=500{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return {d["device_id"] for d in answer.json()["items"]} & set(DEVICES)


@pytest.mark.usefixtures("two_sites")
def test_an_integrator_bound_to_no_site_manages_no_device(
    api: TestClient, settings: Settings
) -> None:
    vendor = bearer(settings, Principal("ds-vendor", "integrator"))
    assert _listed(api, vendor) == set()
    assert _listed(api, vendor, "&site=dsa") == set()
    for path in ("", "/dead-letters"):
        answer = api.get(f"/api/v1/devices/ds-a-wrist{path}", headers=vendor)
        assert answer.status_code == 403, answer.text
    # Refused before anything is provisioned or revoked (no broker is asked).
    answer = api.post(
        "/api/v1/devices",
        json={"device_id": "ds-new", "site_id": "dsa", "kind": "wearable"},
        headers=vendor,
    )
    assert answer.status_code == 403, answer.text
    answer = api.post("/api/v1/devices/ds-b-wrist/retire", headers=vendor)
    assert answer.status_code == 403, answer.text
    answer = api.put(
        "/api/v1/devices/ds-b-wrist/resident", json={"resident_id": None}, headers=vendor
    )
    assert answer.status_code == 403, answer.text


@pytest.mark.usefixtures("two_sites")
def test_a_site_bounds_an_integrator_and_only_an_admin_sees_every_site(
    api: TestClient, settings: Settings
) -> None:
    at_a = bearer(settings, Principal("ds-int-a", "integrator", "dsa"))
    assert _listed(api, at_a) == {"ds-a-wrist"}
    assert _listed(api, at_a, "&site=dsb") == set()
    assert api.get("/api/v1/devices/ds-a-wrist", headers=at_a).status_code == 200
    assert api.get("/api/v1/devices/ds-b-wrist", headers=at_a).status_code == 403
    admin = bearer(settings, Principal("ds-admin", "admin"))
    assert _listed(api, admin) == set(DEVICES)
    assert api.get("/api/v1/devices/ds-b-wrist", headers=admin).status_code == 200
