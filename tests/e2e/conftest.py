"""Fixtures of the alert service tests: real receivers and the service in-process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from services.settings import Settings
from tests.conftest import ServiceProcess, detector_process
from tests.e2e.alerting import Running, clean
from tests.receivers import HttpReceiver, SmtpReceiver


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    receiver.up()
    try:
        yield receiver
    finally:
        receiver.down()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    receiver.up()
    try:
        yield receiver
    finally:
        receiver.down()


@pytest.fixture
def run_service(settings: Settings, db_url: str, ward: str) -> Iterator[type[Running]]:
    """Clean alert tables; the test starts the service (`run_service(settings)`) after storing
    its care team; every instance is stopped at the end."""
    with psycopg.connect(db_url) as conn:
        clean(conn)
    started: list[Running] = []

    class Tracked(Running):
        def __init__(self, settings: Settings, **config: Any) -> None:
            super().__init__(settings, **config)
            started.append(self)

    try:
        yield Tracked
    finally:
        for service in started:
            if service.thread.is_alive():
                service.stop()


@pytest.fixture(scope="session")
def detector(settings: Settings) -> Iterator[ServiceProcess]:
    """One detector for the session (one MQTT session id: a second would take it over)."""
    process = detector_process(settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()
