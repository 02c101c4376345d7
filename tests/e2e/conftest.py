"""Fixtures of the end-to-end tests: real receivers, the alert service in-process, the API
served by uvicorn."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI

from services.api.app import create_app
from services.operations.local.system import free_port
from services.settings import Settings
from tests.conftest import ServiceProcess, detector_process
from tests.e2e.alerting import Running, clean
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import wait_for


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


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, until=bool, what="uvicorn started")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def live_api(settings: Settings) -> Iterator[str]:
    """The API served by uvicorn on a free port (the SSE stream needs a real server)."""
    with serve(create_app(settings)) as url:
        yield url
