"""The devices API through the real app: real database, real broker (dynamic security)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from services.devices.secrets import verify_password
from services.settings import Settings
from tests.support import SITE, UNIT, Conn, Device, count, new_resident

pytestmark = pytest.mark.usefixtures("ward")

DEVICES = "/api/v1/devices"


def new_id() -> str:
    return f"api-{uuid.uuid4().hex[:12]}"


def create(api: TestClient, device_id: str, **fields: Any) -> Response:
    return api.post(DEVICES, json={"device_id": device_id, "site_id": SITE, **fields})


def provision(api: TestClient) -> str:
    made = new_id()
    response = create(api, made)
    assert response.status_code == 201, response.text
    return made


@pytest.fixture
def device_id(api: TestClient, ward: str) -> str:
    return provision(api)


@pytest.fixture(scope="module")
def unassigned(api: TestClient, ward: str) -> str:
    """One device, never assigned, for the tests that only read or are refused."""
    return provision(api)


# --- provisioning --------------------------------------------------------------------------


def test_create_device_issues_a_password_and_stores_only_its_hash(
    api: TestClient, db: Conn, settings: Settings
) -> None:
    made = new_id()
    response = create(api, made, kind="bed_sensor")
    assert response.status_code == 201, response.text
    body = response.json()
    password = body["mqtt"].pop("password")
    assert body == {
        "device_id": made,
        "site_id": SITE,
        "kind": "bed_sensor",
        "placement": None,
        "mqtt": {
            "host": settings.mqtt_host,
            "port": settings.mqtt_port,
            "username": made,
            "topic_prefix": f"carewatch/v1/{SITE}/{made}/",
        },
    }
    assert isinstance(password, str) and len(password) >= 32
    row = db.execute("SELECT d::text, secret_hash FROM devices d WHERE device_id = %s", [made])
    found = row.fetchone()
    assert found is not None
    as_text, secret_hash = found
    assert password not in as_text
    assert verify_password(password, secret_hash)
    assert password not in api.get(f"{DEVICES}/{made}").text


def test_kind_defaults_to_wearable(api: TestClient) -> None:
    made = new_id()
    assert create(api, made).json()["kind"] == "wearable"
    assert api.get(f"{DEVICES}/{made}").json()["kind"] == "wearable"


@pytest.mark.parametrize(
    ("kind", "placement"), [("wearable", "wrist"), ("wearable", "pendant"), ("bed_sensor", "bed")]
)
def test_placement_is_declared_at_provisioning_and_stored(
    api: TestClient, db: Conn, kind: str, placement: str
) -> None:
    made = new_id()
    response = create(api, made, kind=kind, placement=placement)
    assert response.status_code == 201, response.text
    assert response.json()["placement"] == placement
    assert api.get(f"{DEVICES}/{made}").json()["placement"] == placement
    row = db.execute("SELECT placement FROM devices WHERE device_id = %s", [made]).fetchone()
    assert row == (placement,)


def test_two_devices_get_different_passwords(api: TestClient) -> None:
    a, b = create(api, new_id()), create(api, new_id())
    assert a.json()["mqtt"]["password"] != b.json()["mqtt"]["password"]


def test_provisioned_device_connects_at_once(api: TestClient, settings: Settings) -> None:
    made = new_id()
    password = create(api, made).json()["mqtt"]["password"]
    device = Device("127.0.0.1", settings.mqtt_port, made, password)
    try:
        assert not device.connect_result.is_failure, device.connect_result
    finally:
        device.close()
    # The broker does check: the same account with another password is refused.
    wrong = Device("127.0.0.1", settings.mqtt_port, made, password + "x")
    try:
        assert wrong.connect_result.is_failure
    finally:
        wrong.close()


# (body without device_id/site_id defaults, the field the error must name)
INVALID: list[tuple[dict[str, Any], str]] = [
    ({"device_id": "has space"}, "device_id"),
    ({"device_id": ""}, "device_id"),
    ({"device_id": "x" * 65}, "device_id"),
    ({"device_id": "dev/1"}, "device_id"),
    ({"device_id": "d\u00e9v"}, "device_id"),
    ({"device_id": None}, "device_id"),
    ({"site_id": "t 1"}, "site_id"),
    ({"kind": "toaster"}, "kind"),
    ({"kind": 3}, "kind"),
    ({"placement": "ankle"}, "placement"),
    ({"placement": "bed"}, "placement"),  # a wearable is not a bed sensor
    ({"kind": "bed_sensor", "placement": "wrist"}, "placement"),
    ({"kind": "gateway", "placement": "waist"}, "placement"),
]


@pytest.mark.parametrize(
    ("fields", "field"),
    INVALID,
    ids=[
        "id-space",
        "id-empty",
        "id-too-long",
        "id-slash",
        "id-non-ascii",
        "id-missing",
        "site-space",
        "kind-unknown",
        "kind-not-string",
        "placement-unknown",
        "wearable-in-bed",
        "bed-sensor-on-wrist",
        "gateway-worn",
    ],
)
def test_invalid_body_is_422_naming_the_field(
    api: TestClient, db: Conn, fields: dict[str, Any], field: str
) -> None:
    body = {"device_id": new_id(), "site_id": SITE, **fields}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post(DEVICES, json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(field in error["loc"] for error in errors), errors
    assert (
        count(db, "SELECT count(*) FROM devices WHERE device_id = %s", body.get("device_id")) == 0
    )


def test_unknown_site_is_422(api: TestClient, db: Conn) -> None:
    made = new_id()
    response = api.post(DEVICES, json={"device_id": made, "site_id": "no-such-site"})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "site_id"] and "no-such-site" in error["msg"]
    assert api.get(f"{DEVICES}/{made}").status_code == 404


def test_duplicate_device_is_409_and_keeps_the_first_password(
    api: TestClient, settings: Settings
) -> None:
    made = new_id()
    first = create(api, made)
    assert first.status_code == 201
    again = create(api, made, kind="gateway")
    assert again.status_code == 409, again.text
    assert made in again.json()["detail"]
    assert api.get(f"{DEVICES}/{made}").json()["kind"] == "wearable"
    device = Device("127.0.0.1", settings.mqtt_port, made, first.json()["mqtt"]["password"])
    try:
        assert not device.connect_result.is_failure, device.connect_result
    finally:
        device.close()


# --- authentication ------------------------------------------------------------------------

ENDPOINTS: list[tuple[str, Callable[[str], str], dict[str, Any] | None]] = [
    ("POST", lambda _d: DEVICES, {"device_id": "never-made", "site_id": SITE}),
    ("GET", lambda d: f"{DEVICES}/{d}", None),
    ("PUT", lambda d: f"{DEVICES}/{d}/resident", {"resident_id": None}),
]


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        ("", 401),
        ("Basic YWRtaW46YWRtaW4=", 401),
        ("Bearer", 401),
        ("Bearer wrong", 401),  # not a token we issued
        ("Bearer ", 401),
    ],
    ids=["no-token", "basic-auth", "bearer-without-token", "wrong-token", "bearer-empty"],
)
@pytest.mark.parametrize(
    ("method", "path", "body"), ENDPOINTS, ids=[e[0].lower() for e in ENDPOINTS]
)
def test_admin_token_is_required(
    api: TestClient,
    unassigned: str,
    authorization: str,
    status: int,
    method: str,
    path: Callable[[str], str],
    body: dict[str, Any] | None,
) -> None:
    response = api.request(
        method, path(unassigned), json=body, headers={"Authorization": authorization}
    )
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    assert api.get(f"{DEVICES}/never-made").status_code == 404


def test_token_is_compared_exactly(api: TestClient, unassigned: str) -> None:
    token = api.headers["Authorization"].removeprefix("Bearer ")
    for wrong in (token[:-1], token + "x", token.swapcase()):
        assert wrong != token
        headers = {"Authorization": f"Bearer {wrong}"}
        assert api.get(f"{DEVICES}/{unassigned}", headers=headers).status_code == 401


# --- look-up -------------------------------------------------------------------------------


def test_get_device(api: TestClient, unassigned: str) -> None:
    response = api.get(f"{DEVICES}/{unassigned}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.pop("created_at")
    assert body == {
        "device_id": unassigned,
        "site_id": SITE,
        "kind": "wearable",
        "retired_at": None,
        "resident_id": None,
        "placement": None,
    }


def test_get_unknown_device_is_404(api: TestClient) -> None:
    response = api.get(f"{DEVICES}/no-such-device")
    assert response.status_code == 404
    assert "no-such-device" in response.json()["detail"]


# --- assignment ----------------------------------------------------------------------------


def assign(api: TestClient, device: str, resident: int | None, at: str | None = None) -> Response:
    body: dict[str, Any] = {"resident_id": resident}
    if at is not None:
        body["at"] = at
    return api.put(f"{DEVICES}/{device}/resident", json=body)


def resident_of(api: TestClient, device: str) -> object:
    return api.get(f"{DEVICES}/{device}").json()["resident_id"]


def test_assign_resident(api: TestClient, db: Conn, device_id: str) -> None:
    resident = new_resident(db)
    response = assign(api, device_id, resident)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert resident_of(api, device_id) == resident


def test_reassign_keeps_history_and_unassign_ends_it(
    api: TestClient, db: Conn, device_id: str
) -> None:
    first, second = new_resident(db), new_resident(db)
    assert assign(api, device_id, first, "2024-01-01T00:00:00Z").status_code == 204
    assert assign(api, device_id, second, "2024-06-01T00:00:00Z").status_code == 204
    assert resident_of(api, device_id) == second
    history = db.execute(
        "SELECT resident_id, lower(during), upper(during) FROM device_assignments"
        " WHERE device_id = %s ORDER BY lower(during)",
        [device_id],
    ).fetchall()
    assert [(r, lo.isoformat(), hi and hi.isoformat()) for r, lo, hi in history] == [
        (first, "2024-01-01T00:00:00+00:00", "2024-06-01T00:00:00+00:00"),
        (second, "2024-06-01T00:00:00+00:00", None),
    ]
    assert assign(api, device_id, None).status_code == 204
    assert resident_of(api, device_id) is None


def test_assign_unknown_resident_is_404(api: TestClient, device_id: str) -> None:
    response = assign(api, device_id, 2**62)
    assert response.status_code == 404, response.text
    assert str(2**62) in response.json()["detail"]


def test_assign_to_unknown_device_is_404(api: TestClient, db: Conn) -> None:
    response = assign(api, "no-such-device", new_resident(db))
    assert response.status_code == 404, response.text


def test_assign_resident_of_another_site_is_422(api: TestClient, db: Conn, device_id: str) -> None:
    db.execute("INSERT INTO sites VALUES ('t2', 'Other site') ON CONFLICT DO NOTHING")
    db.execute("INSERT INTO units VALUES ('t2', %s, 'Other unit') ON CONFLICT DO NOTHING", [UNIT])
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES ('t2', %s, 'Elsewhere')"
        " RETURNING resident_id",
        [UNIT],
    ).fetchone()
    assert row is not None
    response = assign(api, device_id, row[0])
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "resident_id"] and "'t2'" in error["msg"]
    assert resident_of(api, device_id) is None


def test_assign_before_the_current_assignment_started_is_409(
    api: TestClient, db: Conn, device_id: str
) -> None:
    first, second = new_resident(db), new_resident(db)
    assert assign(api, device_id, first, "2024-01-01T00:00:00Z").status_code == 204
    response = assign(api, device_id, second, "2023-12-31T23:59:59Z")
    assert response.status_code == 409, response.text
    assert resident_of(api, device_id) == first


# --- operations ----------------------------------------------------------------------------


def test_healthz(api: TestClient) -> None:
    response = api.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_metrics(api: TestClient) -> None:
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
