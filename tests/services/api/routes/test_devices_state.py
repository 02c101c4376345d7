"""A device's state reads the same wherever it is shown: the devices' list and a resident's
page judge online, offline and when it was last heard by one rule (docs/device-protocol.md,
"When a device is offline"), from when CareWatch received its messages."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.settings import Settings
from tests.support import UNIT, Conn, Device, wait_for

pytestmark = pytest.mark.usefixtures("ward", "ingest_worker")

Publish = Callable[..., None]
Worn = tuple[str, int, Publish]
Json = dict[str, Any]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def worn(api: TestClient, db: Conn, settings: Settings) -> Iterator[Worn]:
    """A wearable at a site of its own, assigned to a resident there, connected: yields its
    id, the resident and a publish(stream, payload, retain=False)."""
    site = f"site-{uuid.uuid4().hex[:8]}"
    db.execute("INSERT INTO sites VALUES (%s, 'State test')", [site])
    db.execute("INSERT INTO units VALUES (%s, %s, 'Unit')", [site, UNIT])
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, %s, 'Zhao Lei')"
        " RETURNING resident_id",
        [site, UNIT],
    ).fetchone()
    assert row is not None
    db.commit()
    device_id = f"st-{uuid.uuid4().hex[:10]}"
    made = api.post("/api/v1/devices", json={"device_id": device_id, "site_id": site})
    assert made.status_code == 201, made.text
    assigned = api.put(f"/api/v1/devices/{device_id}/resident", json={"resident_id": row[0]})
    assert assigned.status_code == 204, assigned.text
    device = Device("127.0.0.1", settings.mqtt_port, device_id, made.json()["mqtt"]["password"])
    topic = f"carewatch/v1/{site}/{device_id}"

    def publish(stream: str, payload: dict[str, Any], retain: bool = False) -> None:
        device.publish(f"{topic}/{stream}", payload, retain=retain)

    try:
        yield device_id, int(row[0]), publish
    finally:
        device.close()


def both(api: TestClient, device_id: str, resident_id: int) -> tuple[Json, Json]:
    """The device as the devices' list shows it, and as the resident's profile does."""
    listed = api.get("/api/v1/devices", params={"limit": 500}).json()["items"]
    (on_list,) = [d for d in listed if d["device_id"] == device_id]
    (on_profile,) = api.get(f"/api/v1/residents/{resident_id}").json()["devices"]
    return on_list, on_profile


STATE = ("online", "offline_reason", "last_seen")


def test_a_device_heard_now_is_online_everywhere_though_its_status_is_old(
    api: TestClient, worn: Worn
) -> None:
    device_id, resident_id, publish = worn
    # Its retained status from when it connected, ten minutes ago; readings since.
    publish("status", {"ts": now_ms() - 600_000, "online": True, "battery": 80}, retain=True)
    publish("vitals", {"ts": now_ms(), "hr": 71})
    on_list, on_profile = wait_for(
        lambda: both(api, device_id, resident_id),
        until=lambda pair: pair[0]["online"] and pair[1]["battery"] == 80,
        what="the reading on the list",
    )
    assert (on_profile["online"], on_profile["last_seen"]) == (True, on_list["last_seen"])
    assert {k: on_profile[k] for k in STATE} == {k: on_list[k] for k in STATE}
    assert on_profile["offline_reason"] is None


def test_a_last_will_is_offline_disconnected_everywhere(api: TestClient, worn: Worn) -> None:
    device_id, resident_id, publish = worn
    publish("status", {"ts": now_ms(), "online": True, "battery": 64}, retain=True)
    publish("status", {"online": False}, retain=True)  # what the broker's last will says
    on_list, on_profile = wait_for(
        lambda: both(api, device_id, resident_id),
        until=lambda pair: pair[0]["online"] is False and pair[0]["last_seen"] is not None,
        what="offline after the will",
    )
    assert on_list["offline_reason"] == "disconnected"
    assert {k: on_profile[k] for k in STATE} == {k: on_list[k] for k in STATE}
