"""Session fixtures: a real TimescaleDB and a real Mosquitto, started through `LocalStack`
(the code path `carewatch up` uses), and the ingest worker as a real child process."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from services.local.process import ChildProcess
from services.local.stack import LocalStack
from services.local.system import free_port
from services.settings import (
    MqttEndpoint,
    Settings,
    database_url,
    mqtt_admin_endpoint,
    mqtt_ingest_endpoint,
)
from tests.support import wait_for


def fresh_data_dir(prefix: str) -> Path:
    # Under /tmp and open to traverse: when the tests run as root, PostgreSQL and Mosquitto
    # run as their own system users and must reach their directories inside.
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def local_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        data_dir=data_dir,
        pg_port=free_port(),
        mqtt_port=free_port(),
        api_port=free_port(),
        ingest_metrics_port=free_port(),
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def service_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CAREWATCH_DATA_DIR=str(settings.data_dir),
        CAREWATCH_PG_PORT=str(settings.pg_port),
        CAREWATCH_MQTT_PORT=str(settings.mqtt_port),
        CAREWATCH_API_PORT=str(settings.api_port),
        CAREWATCH_INGEST_METRICS_PORT=str(settings.ingest_metrics_port),
    )
    return env


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    """The session's stack: real PostgreSQL + TimescaleDB and Mosquitto, stopped at the end."""
    s = local_settings(fresh_data_dir("carewatch-test-"))
    stack = LocalStack(s)
    stack.start()
    try:
        yield s
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def db_url(settings: Settings) -> str:
    return database_url(settings)


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


class IngestProcess:
    """`carewatch ingest` as a child process, as `carewatch up` runs it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.child = ChildProcess(
            "ingest",
            [sys.executable, "-m", "services.cli", "ingest"],
            log_path=Path(settings.data_dir) / "log" / "ingest-test.log",
            env=service_env(settings),
            stop_signal=signal.SIGINT,
        )

    def start(self) -> None:
        self.child.start()

    def stop(self) -> None:
        code = self.child.stop(timeout=30)
        assert code in (0, None), f"ingest exited with {code}:\n{self.child.log_tail()}"

    def kill(self) -> None:
        self.child.kill()


@pytest.fixture(scope="session")
def ingest_worker(settings: Settings) -> Iterator[IngestProcess]:
    worker = IngestProcess(settings)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def count(conn: psycopg.Connection[tuple[object, ...]], sql: str, *params: object) -> int:
    row = conn.execute(sql.encode(), params).fetchone()  # type: ignore[call-overload]
    assert row is not None
    return int(row[0])


__all__ = ["count", "wait_for"]
