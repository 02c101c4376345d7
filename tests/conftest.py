"""Session fixtures: a real TimescaleDB and a real Mosquitto, started through `LocalStack`
(the code path `carewatch up` uses), and the ingest worker as a real child process."""

from __future__ import annotations

import signal
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.operations.local.env import service_env
from services.operations.local.process import ChildProcess
from services.settings import (
    MqttEndpoint,
    ServiceRole,
    Settings,
    admin_token,
    database_url,
    mqtt_admin_endpoint,
    mqtt_ingest_endpoint,
)
from tests.support import SITE, UNIT, UNTHROTTLED, Device, own_stack


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """The session's stack: real PostgreSQL + TimescaleDB and Mosquitto, stopped at the end."""
    with own_stack("carewatch-test-") as s:
        yield s


@pytest.fixture(scope="session")
def db_url(settings: Settings) -> str:
    return database_url(settings)


@pytest.fixture(scope="session")
def role_db_url(settings: Settings) -> Callable[[ServiceRole], str]:
    """A service's own database URL (its role, migration 0008), for services run in-process:
    what they connect as in production. `db_url` is the owner's, for setting tests up."""
    return lambda role: database_url(settings, role)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def admin_endpoint(settings: Settings) -> MqttEndpoint:
    return mqtt_admin_endpoint(settings)


@pytest.fixture(scope="session")
def ingest_endpoint(settings: Settings) -> MqttEndpoint:
    return mqtt_ingest_endpoint(settings)


class ServiceProcess:
    """A `carewatch` service as a child process, as `carewatch up` runs it, with its metrics."""

    def __init__(
        self,
        settings: Settings,
        command: str,
        *,
        metrics_port: int,
        args: Sequence[str] = (),
        name: str | None = None,  # several of one command (scale-out): each its own log
    ) -> None:
        self.settings = settings
        self.command = command
        self.metrics_port = metrics_port
        self.child = ChildProcess(
            name or command,
            [sys.executable, "-m", "services.cli", command, *args],
            log_path=Path(settings.data_dir) / "log" / f"{name or command}-test.log",
            env=service_env(settings),
            stop_signal=signal.SIGINT,
        )

    def start(self) -> None:
        """Start, and return once the broker has confirmed the service's subscription (before
        that, on a first start, a message has no subscriber yet and is not queued for it)."""
        self.child.start()
        self.child.wait_until(self.subscribed, timeout=30, what="subscribed")

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            return ""

    def subscribed(self) -> bool:
        return any(line.endswith("_subscribed 1.0") for line in self.metrics().splitlines())

    def stop(self) -> None:
        code = self.child.stop(timeout=30)
        assert code in (0, None), f"{self.command} exited with {code}:\n{self.child.log_tail()}"

    def kill(self) -> None:
        self.child.kill()


def ingest_process(settings: Settings) -> ServiceProcess:
    return ServiceProcess(settings, "ingest", metrics_port=settings.ingest_metrics_port)


def detector_process(settings: Settings) -> ServiceProcess:
    return ServiceProcess(settings, "detect", metrics_port=settings.detector_metrics_port)


@pytest.fixture(scope="session")
def ingest_worker(settings: Settings) -> Iterator[ServiceProcess]:
    worker = ingest_process(settings)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def api(settings: Settings) -> Iterator[TestClient]:
    """The real API app (real database, real broker admin) behind an in-process client."""
    # One client address ("testclient") for the whole session: no login throttle here
    # (tests/e2e/test_auth.py checks it on an app of its own).
    unthrottled = settings.model_copy(update=UNTHROTTLED)
    with TestClient(create_app(unthrottled)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token(settings)}"
        yield client


@pytest.fixture(scope="session")
def ward(settings: Settings, db_url: str) -> str:
    """Site `t1`, unit `u1`; returns the site id."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO sites VALUES (%s, 'Test site') ON CONFLICT DO NOTHING", [SITE])
        conn.execute(
            "INSERT INTO units VALUES (%s, %s, 'Test unit') ON CONFLICT DO NOTHING", [SITE, UNIT]
        )
    return SITE


@pytest.fixture
def make_device(api: TestClient, ward: str, settings: Settings) -> Iterator[Callable[..., Device]]:
    """Provision a device through the API and log in as it with a real MQTT client."""
    made: list[Device] = []

    def make(
        kind: str = "wearable", resident_id: int | None = None, placement: str | None = None
    ) -> Device:
        device_id = f"dev-{uuid.uuid4().hex[:12]}"
        body = {"device_id": device_id, "site_id": ward, "kind": kind}
        if placement is not None:
            body["placement"] = placement
        response = api.post("/api/v1/devices", json=body)
        assert response.status_code == 201, response.text
        if resident_id is not None:
            put = api.put(
                f"/api/v1/devices/{device_id}/resident",
                json={"resident_id": resident_id, "at": "2000-01-01T00:00:00Z"},
            )
            assert put.status_code == 204, put.text
        mqtt_info = response.json()["mqtt"]
        device = Device("127.0.0.1", settings.mqtt_port, device_id, mqtt_info["password"])
        assert not device.connect_result.is_failure, device.connect_result
        made.append(device)
        return device

    yield make
    for device in made:
        device.close()
