"""Helpers shared by the integration tests: waiting on conditions, publishing as a device."""

from __future__ import annotations

import itertools
import json
import queue
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from services.operations.local.env import scratch_settings
from services.operations.local.stack import LocalStack
from services.records.identity import check_digit
from services.settings import Settings

T = TypeVar("T")
# Settings for an app whose tests log in many times from one address: no login throttle.
UNTHROTTLED = {
    "login_attempts_per_minute": 1_000_000,
    "login_attempts_per_address_per_minute": 1_000_000,
}
SITE = "t1"  # the test ward's site and unit (see the `ward` fixture)
UNIT = "u1"
Conn = psycopg.Connection[tuple[Any, ...]]


def count(conn: Conn, sql: str, *params: object) -> int:
    row = conn.execute(sql.encode(), params).fetchone()
    assert row is not None
    return int(row[0])


_national_ids = itertools.count(1)


def fresh_national_id(born: str = "19491231") -> str:
    """A valid resident ID (GB 11643) no other test of the session has used: one person has
    one record per site, so two admissions with one ID are refused (409)."""
    n = next(_national_ids)
    first17 = f"{110105 + n // 1000:06d}{born}{n % 1000:03d}"
    return first17 + check_digit(first17)


def new_resident(conn: Conn, name: str = "Test Resident") -> int:
    row = conn.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, %s, %s)"
        " RETURNING resident_id",
        [SITE, UNIT, name],
    ).fetchone()
    assert row is not None
    return int(row[0])


def wait_for(
    probe: Callable[[], T],
    *,
    until: Callable[[T], bool],
    timeout: float = 20.0,
    what: str = "",
    every: float = 0.05,
) -> T:
    """Poll `probe` every `every` seconds until `until(value)`; fail with the last value after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not until(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}: last {value!r}")
        time.sleep(every)
        value = probe()
    return value


class Device:
    """A real MQTT client logged in as one device; `publish` waits for the broker's PUBACK."""

    def __init__(
        self,
        host: str,
        port: int,
        device_id: str,
        password: str,
        *,
        client_id: str | None = None,  # None: the device id, the only one its account may use
        clean_start: mqtt.CleanStartOption = mqtt.MQTT_CLEAN_START_FIRST_ONLY,
    ) -> None:
        self.device_id = device_id
        self.password = password
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or device_id, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(device_id, password)
        self.acks: dict[int, ReasonCode] = {}
        self._acked: queue.Queue[int] = queue.Queue()
        connected: queue.Queue[ReasonCode] = queue.Queue()
        self.client.on_connect = lambda _c, _u, _f, rc, _p: connected.put(rc)
        self.client.on_publish = self._on_publish
        self.client.connect(host, port, clean_start=clean_start)
        self.client.loop_start()
        self.connect_result = connected.get(timeout=10)

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        self.acks[mid] = reason
        self._acked.put(mid)

    def publish(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any],
        *,
        qos: int = 1,
        retain: bool = False,
    ) -> ReasonCode:
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        if not info.is_published():
            raise AssertionError(f"no PUBACK for {topic}")
        deadline = time.monotonic() + 10
        while info.mid not in self.acks:
            self._acked.get(timeout=max(0.01, deadline - time.monotonic()))
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def drop_session(host: str, port: int, username: str, password: str, client_id: str) -> None:
    """End a persistent session a test left (a clean start discards it), so the broker does
    not queue the rest of the run's messages for it."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    connected: queue.Queue[ReasonCode] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc, _p: connected.put(rc)
    client.connect(host, port, clean_start=True)
    client.loop_start()
    try:
        connected.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


PASSWORD = "correct horse battery staple"
_logins: dict[str, dict[str, str]] = {}


def login_as(
    api: Any,
    username: str,
    role: str,
    *,
    site: str | None = None,
    units: tuple[str, ...] = (),
    staff: str | None = None,
    hospital: str | None = None,
    resident: int | None = None,
    region: str | None = None,
) -> dict[str, str]:
    """Headers with a bearer token for a user of this role and scope, created on first use
    (by the admin token the `api` client carries) and logged in through the OAuth2 flow."""
    if username not in _logins:
        created = api.post(
            "/api/v1/users",
            json={
                "username": username,
                "password": PASSWORD,
                "role": role,
                "site_id": site,
                "unit_ids": list(units),
                "staff_id": staff,
                "hospital_id": hospital,
                "resident_id": resident,
                "region_id": region,
            },
        )
        assert created.status_code in (201, 409), created.text
        token = api.post(
            "/api/v1/auth/token",
            data={"username": username, "password": PASSWORD},
            headers={"Authorization": ""},
        )
        assert token.status_code == 200, token.text
        _logins[username] = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return _logins[username]


@contextmanager
def own_stack(prefix: str) -> Iterator[Settings]:
    """A real PostgreSQL + TimescaleDB and Mosquitto of the caller's own, on free ports under a
    scratch data dir under /tmp, stopped and removed at the end."""
    settings = scratch_settings(prefix)
    stack = LocalStack(settings)
    stack.start()
    try:
        yield settings
    finally:
        stack.stop()
        shutil.rmtree(Path(settings.data_dir), ignore_errors=True)


def candidates(db: Conn, resident_id: int) -> list[tuple[str, str]]:
    """The detector's alert candidates about a resident, as (rule, action), in order."""
    rows = db.execute(
        "SELECT rule_id, action FROM alert_candidates WHERE subject = %s ORDER BY id",
        [f"resident:{resident_id}"],
    ).fetchall()
    return [(str(rule), str(action)) for rule, action in rows]
