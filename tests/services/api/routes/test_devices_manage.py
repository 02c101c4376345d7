"""Managing devices through the real app, broker and database: the list with each device's
state, re-assignment history, retirement at the broker, and a device's dead letters."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from paho.mqtt.reasoncodes import ReasonCode

from services.api.app import create_app
from services.errors import BrokerAdminError
from services.settings import Settings
from tests.support import SITE, UNIT, Conn, Device, count, login_as, new_resident, wait_for

pytestmark = pytest.mark.usefixtures("ward", "ingest_worker")

DEVICES = "/api/v1/devices"
# Every field of a listed device: ids, never a resident's name or data.
OVERVIEW_FIELDS = {
    "device_id",
    "site_id",
    "kind",
    "created_at",
    "retired_at",
    "resident_id",
    "assigned_since",
    "online",
    "last_seen",
    "battery",
    "fw",
    "placement",
    "offline_reason",
}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.fixture
def site(db: Conn) -> str:
    """A site of its own, so the list holds only this test's devices."""
    made = f"site-{uuid.uuid4().hex[:8]}"
    db.execute("INSERT INTO sites VALUES (%s, 'List test')", [made])
    db.execute("INSERT INTO units VALUES (%s, %s, 'Unit')", [made, UNIT])
    return made


def resident_at(db: Conn, site: str, name: str) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, %s, %s)"
        " RETURNING resident_id",
        [site, UNIT, name],
    ).fetchone()
    assert row is not None
    return int(row[0])


Provision = Callable[..., tuple[str, str]]


@pytest.fixture
def provision(api: TestClient) -> Provision:
    def make(
        site: str = "t1", kind: str = "wearable", prefix: str = "m", placement: str | None = None
    ) -> tuple[str, str]:
        device_id = f"{prefix}-{uuid.uuid4().hex[:10]}"
        body = {"device_id": device_id, "site_id": site, "kind": kind}
        if placement is not None:
            body["placement"] = placement
        response = api.post(DEVICES, json=body)
        assert response.status_code == 201, response.text
        return device_id, response.json()["mqtt"]["password"]

    return make


@pytest.fixture
def connect(settings: Settings) -> Iterator[Callable[[str, str], Device]]:
    made: list[Device] = []

    def open_(device_id: str, password: str) -> Device:
        device = Device("127.0.0.1", settings.mqtt_port, device_id, password)
        made.append(device)
        return device

    yield open_
    for device in made:
        device.close()


def assign(api: TestClient, device: str, resident: int | None, at: datetime | None = None) -> int:
    body: dict[str, Any] = {"resident_id": resident}
    if at is not None:
        body["at"] = at.isoformat()
    return api.put(f"{DEVICES}/{device}/resident", json=body).status_code


def listed(api: TestClient, headers: dict[str, str] | None = None, **params: Any) -> list[Any]:
    response = api.get(DEVICES, params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def by_id(items: list[Any]) -> dict[str, Any]:
    return {item["device_id"]: item for item in items}


# --- the list ------------------------------------------------------------------------------


def test_list_shows_state_and_only_ids_of_residents(
    api: TestClient, db: Conn, site: str, provision: Provision, connect: Callable[..., Device]
) -> None:
    resident = resident_at(db, site, "Mrs Secret Name")
    worn, password = provision(site, placement="wrist")
    quiet, _ = provision(site, "bed_sensor")
    assert assign(api, worn, resident, datetime(2024, 1, 1, tzinfo=UTC)) == 204
    device = connect(worn, password)
    topic = f"carewatch/v1/{site}/{worn}"
    status = {"ts": now_ms(), "seq": 1, "online": True, "battery": 87, "fw": "1.4.2"}
    device.publish(f"{topic}/status", status, retain=True)
    device.publish(f"{topic}/vitals", {"ts": now_ms(), "seq": 2, "hr": 72})

    def seen() -> dict[str, Any]:
        return by_id(listed(api, site=site))

    items = wait_for(
        seen, until=lambda d: d[worn]["battery"] is not None, what="the status in the list"
    )
    assert list(items) == sorted([worn, quiet])
    assert items[worn]["online"] is True
    assert items[worn]["battery"] == 87 and items[worn]["fw"] == "1.4.2"
    assert (items[worn]["placement"], items[quiet]["placement"]) == ("wrist", None)
    assert items[worn]["resident_id"] == resident
    since = datetime.fromisoformat(items[worn]["assigned_since"])
    assert since == datetime(2024, 1, 1, tzinfo=UTC)
    last_seen = datetime.fromisoformat(items[worn]["last_seen"])
    assert abs(datetime.now(UTC) - last_seen) < timedelta(minutes=1)
    assert {k: items[quiet][k] for k in ("online", "last_seen", "battery", "fw")} == {
        "online": False,
        "last_seen": None,
        "battery": None,
        "fw": None,
    }

    # The vendor's account is bound to the site it serves (bound to none, it sees no device).
    integrator = login_as(api, f"device-integrator-{site}", "integrator", site=site)
    response = api.get(DEVICES, params={"site": site}, headers=integrator)
    assert response.status_code == 200, response.text
    assert "Secret" not in response.text
    for item in response.json()["items"]:
        assert set(item) == OVERVIEW_FIELDS
    assert by_id(response.json()["items"])[worn]["resident_id"] == resident


def test_last_will_makes_a_device_offline_until_it_speaks_again(
    api: TestClient, site: str, provision: Provision, connect: Callable[..., Device]
) -> None:
    device_id, password = provision(site)
    device = connect(device_id, password)
    topic = f"carewatch/v1/{site}/{device_id}"
    device.publish(f"{topic}/status", {"ts": now_ms(), "online": True, "battery": 55}, retain=True)
    wait_for(lambda: by_id(listed(api, site=site))[device_id]["online"], until=bool, what="online")
    device.publish(f"{topic}/status", {"online": False}, retain=True)  # what the will says
    offline = wait_for(
        lambda: by_id(listed(api, site=site))[device_id],
        until=lambda d: d["online"] is False,
        what="offline after the last will",
    )
    assert offline["battery"] == 55  # the last will carries none: the last known stays
    assert listed(api, site=site, online=False)[0]["device_id"] == device_id
    device.publish(f"{topic}/vitals", {"ts": now_ms(), "hr": 70})
    wait_for(
        lambda: by_id(listed(api, site=site))[device_id]["online"],
        until=bool,
        what="online again after a reading",
    )
    assert [d["device_id"] for d in listed(api, site=site, online=True)] == [device_id]


def test_list_filters_and_pages(api: TestClient, site: str, provision: Provision) -> None:
    wearables = sorted(provision(site)[0] for _ in range(3))
    bed, _ = provision(site, "bed_sensor")
    assert api.post(f"{DEVICES}/{wearables[0]}/retire").status_code == 200
    everything = sorted([*wearables, bed])

    def ids(**params: Any) -> list[str]:
        return [item["device_id"] for item in listed(api, site=site, **params)]

    assert ids() == everything
    assert ids(kind="bed_sensor") == [bed]
    assert ids(kind="wearable") == wearables
    assert ids(retired=True) == [wearables[0]]
    assert ids(retired=False) == sorted([*wearables[1:], bed])
    assert ids(online=True) == []
    assert ids(online=False) == everything
    assert ids(limit=2) == everything[:2]
    assert ids(limit=2, offset=2) == everything[2:]
    assert ids(offset=10) == []
    assert site not in {item["site_id"] for item in listed(api, site="t1")}
    for bad in ({"kind": "toaster"}, {"limit": 0}, {"limit": 501}, {"site": "a b"}):
        assert api.get(DEVICES, params=bad).status_code == 422, bad


# --- re-assignment keeps the history -------------------------------------------------------


def history(db: Conn, device: str) -> list[tuple[int, datetime, datetime | None]]:
    rows = db.execute(
        "SELECT resident_id, lower(during), upper(during) FROM device_assignments"
        " WHERE device_id = %s ORDER BY lower(during)",
        [device],
    ).fetchall()
    return [(int(r), lo, hi) for r, lo, hi in rows]


def test_readings_stay_with_whoever_wore_the_device_at_their_time(
    api: TestClient, db: Conn, provision: Provision, connect: Callable[..., Device]
) -> None:
    first, second = new_resident(db), new_resident(db)
    device_id, password = provision()
    now = datetime.now(UTC).replace(microsecond=0)
    swap = now - timedelta(hours=1)
    assert assign(api, device_id, first, now - timedelta(hours=2)) == 204
    assert assign(api, device_id, second, swap) == 204
    assert history(db, device_id) == [
        (first, now - timedelta(hours=2), swap),
        (second, swap, None),
    ]
    device = connect(device_id, password)
    topic = f"carewatch/v1/t1/{device_id}/vitals"
    for ts in (swap - timedelta(minutes=30), swap + timedelta(minutes=30)):
        device.publish(topic, {"ts": int(ts.timestamp() * 1000), "hr": 70})
    sql = "SELECT count(*) FROM readings WHERE device_id = %s"
    wait_for(lambda: count(db, sql, device_id), until=lambda n: n == 2, what="both readings")
    rows = db.execute(
        "SELECT resident_id FROM readings WHERE device_id = %s ORDER BY ts", [device_id]
    ).fetchall()
    assert [r for (r,) in rows] == [first, second]
    # Handing it back to the first resident opens a third interval; nothing earlier moves.
    back = now - timedelta(minutes=5)
    assert assign(api, device_id, first, back) == 204
    assert history(db, device_id) == [
        (first, now - timedelta(hours=2), swap),
        (second, swap, back),
        (first, back, None),
    ]
    assert api.get(f"{DEVICES}/{device_id}").json()["resident_id"] == first


# (what was assigned: (resident index or None, month), the change asked for: (index, month))
REWRITES: list[tuple[list[tuple[int | None, int]], tuple[int | None, int]]] = [
    ([(0, 1), (None, 6)], (1, 3)),  # into the interval that already ended
    ([(0, 1), (None, 6)], (None, 3)),  # shorten it after the fact
    ([(0, 1)], (None, 0)),  # unassign before it began
    ([(0, 1), (1, 6)], (None, 3)),  # end the first when the second already began
]


@pytest.mark.parametrize(
    ("done", "change"),
    REWRITES,
    ids=["assign-into-ended", "shorten-ended", "unassign-before-start", "unassign-into-past"],
)
def test_changes_that_would_rewrite_the_past_are_refused(
    api: TestClient,
    db: Conn,
    provision: Provision,
    done: list[tuple[int | None, int]],
    change: tuple[int | None, int],
) -> None:
    residents = [new_resident(db), new_resident(db)]
    device_id, _ = provision()

    def month(m: int) -> datetime:
        return datetime(2023, 12, 1, tzinfo=UTC) if m == 0 else datetime(2024, m, 1, tzinfo=UTC)

    for who, m in done:
        assert assign(api, device_id, None if who is None else residents[who], month(m)) == 204
    before = history(db, device_id)
    who, m = change
    response = api.put(
        f"{DEVICES}/{device_id}/resident",
        json={"resident_id": None if who is None else residents[who], "at": month(m).isoformat()},
    )
    assert response.status_code == 409, response.text
    assert "give a time after it started" in response.json()["detail"]
    assert history(db, device_id) == before


# --- retirement ----------------------------------------------------------------------------


def test_retire_drops_the_session_and_refuses_new_ones(
    api: TestClient,
    db: Conn,
    settings: Settings,
    provision: Provision,
    connect: Callable[..., Device],
) -> None:
    resident = new_resident(db)
    device_id, password = provision()
    assert assign(api, device_id, resident, datetime(2024, 1, 1, tzinfo=UTC)) == 204
    device = connect(device_id, password)
    assert not device.connect_result.is_failure
    dropped: queue.Queue[ReasonCode] = queue.Queue()
    device.client.on_disconnect = lambda _c, _u, _f, reason, _p: dropped.put(reason)

    response = api.post(f"{DEVICES}/{device_id}/retire")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["retired_at"] is not None and body["resident_id"] is None
    retired_at = datetime.fromisoformat(body["retired_at"])

    # The broker closed the live session itself: no client-side disconnect was asked for.
    reason = dropped.get(timeout=10)
    assert reason is not None
    again = Device("127.0.0.1", settings.mqtt_port, device_id, password)
    try:
        assert again.connect_result.is_failure, again.connect_result
    finally:
        again.close()

    assert history(db, device_id) == [(resident, datetime(2024, 1, 1, tzinfo=UTC), retired_at)]
    # Retiring twice changes nothing; a retired device cannot be given to anyone.
    repeat = api.post(f"{DEVICES}/{device_id}/retire")
    assert repeat.status_code == 200 and repeat.json()["retired_at"] == body["retired_at"]
    assert assign(api, device_id, resident) == 409
    item = by_id(listed(api, retired=True, site="t1", limit=500))[device_id]
    assert item["online"] is False and item["resident_id"] is None


def test_retire_unknown_device_is_404(api: TestClient) -> None:
    response = api.post(f"{DEVICES}/no-such-device/retire")
    assert response.status_code == 404, response.text


class RefusingBroker:
    def create_device(self, device_id: str, password: str) -> None:
        raise AssertionError("not used")

    def delete_device(self, device_id: str) -> None:
        raise BrokerAdminError("the broker did not answer a dynamic-security command")


def test_when_the_broker_does_not_confirm_nothing_is_retired(
    api: TestClient, settings: Settings, provision: Provision, connect: Callable[..., Device]
) -> None:
    device_id, password = provision()
    with TestClient(create_app(settings, broker=RefusingBroker())) as other:
        other.headers["Authorization"] = api.headers["Authorization"]
        response = other.post(f"{DEVICES}/{device_id}/retire")
    assert response.status_code == 502, response.text
    assert "nothing was changed" in response.json()["detail"]
    assert api.get(f"{DEVICES}/{device_id}").json()["retired_at"] is None
    assert not connect(device_id, password).connect_result.is_failure


# --- dead letters --------------------------------------------------------------------------


def dead_letters(
    api: TestClient, device: str, headers: dict[str, str] | None = None, **params: Any
) -> list[Any]:
    response = api.get(f"{DEVICES}/{device}/dead-letters", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def test_dead_letters_list_what_was_rejected_and_why(
    api: TestClient, provision: Provision, connect: Callable[..., Device]
) -> None:
    device_id, password = provision()
    device = connect(device_id, password)
    topic = f"carewatch/v1/t1/{device_id}"
    sent: list[tuple[str, bytes]] = [
        ("vitals", b"{not json"),
        ("vitals", f'{{"ts": {now_ms()}, "hr": 300}}'.encode()),
        ("bed", b"\xff\x1b[2J{"),
        ("heartbeat", b"{}"),
    ]
    for stream, payload in sent:
        device.publish(f"{topic}/{stream}", payload)
    device.publish(f"{topic}/vitals", {"ts": now_ms(), "hr": 70})  # accepted: not listed

    items = wait_for(
        lambda: dead_letters(api, device_id), until=lambda i: len(i) == 4, what="4 dead letters"
    )
    oldest_first = items[::-1]
    assert [(i["topic"], i["reason"]) for i in oldest_first] == [
        (f"{topic}/vitals", "malformed_json"),
        (f"{topic}/vitals", "out_of_range"),
        (f"{topic}/bed", "malformed_json"),
        (f"{topic}/heartbeat", "unknown_stream"),
    ]
    assert [i["payload_size"] for i in oldest_first] == [len(p) for _, p in sent]
    assert oldest_first[1]["detail"] == "hr=300.0 not in [20, 250]"
    assert oldest_first[1]["preview"] == sent[1][1].decode()
    assert oldest_first[2]["preview"] == "\\xff\\x1b[2J{"  # nothing a terminal would act on
    assert all(i["withheld"] is False and i["preview_truncated"] is False for i in items)
    times = [datetime.fromisoformat(i["received_at"]) for i in items]
    assert times == sorted(times, reverse=True)

    assert dead_letters(api, device_id, limit=1) == items[:1]
    since = oldest_first[2]["received_at"]
    assert dead_letters(api, device_id, since=since) == items[:2]
    naive = api.get(f"{DEVICES}/{device_id}/dead-letters", params={"since": "2024-01-01T00:00"})
    assert naive.status_code == 422, naive.text
    assert api.get(f"{DEVICES}/no-such-device/dead-letters").status_code == 404


def test_a_long_payload_is_previewed_in_part(
    api: TestClient, provision: Provision, connect: Callable[..., Device]
) -> None:
    device_id, password = provision()
    payload = b'{"ts": 1, "note": "' + b"x" * 70_000 + b'"}'
    connect(device_id, password).publish(f"carewatch/v1/t1/{device_id}/vitals", payload)
    [item] = wait_for(
        lambda: dead_letters(api, device_id), until=lambda i: len(i) == 1, what="a dead letter"
    )
    assert item["reason"] == "oversized" and item["payload_size"] == len(payload)
    assert item["preview"] == payload[:256].decode() and item["preview_truncated"] is True


def test_integrators_see_no_payload_of_a_device_a_resident_wears(
    api: TestClient, db: Conn, provision: Provision, connect: Callable[..., Device]
) -> None:
    worn, worn_password = provision()
    bench, bench_password = provision()
    assert assign(api, worn, new_resident(db), datetime(2024, 1, 1, tzinfo=UTC)) == 204
    for device_id, password in ((worn, worn_password), (bench, bench_password)):
        connect(device_id, password).publish(
            f"carewatch/v1/t1/{device_id}/vitals", f'{{"ts": {now_ms()}, "spo2": 12}}'
        )
    for device_id in (worn, bench):
        wait_for(partial(dead_letters, api, device_id), until=bool, what="a dead letter")

    integrator = login_as(api, "device-integrator-t1", "integrator", site=SITE)
    [hidden] = dead_letters(api, worn, integrator)
    assert (hidden["reason"], hidden["withheld"]) == ("out_of_range", True)
    assert hidden["detail"] is None and hidden["preview"] is None
    [shown] = dead_letters(api, bench, integrator)
    assert shown["withheld"] is False and "spo2" in shown["preview"]
    [full] = dead_letters(api, worn)  # the admin token: may read residents' data
    assert full["withheld"] is False and full["detail"] == "spo2=12.0 not in [50, 100]"
