"""Exactly once through a crash: the ingest worker is SIGKILLed mid-stream and restarted;
every reading published is stored once, none lost, none twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.settings import Settings, admin_token, database_url
from tests.conftest import ingest_process
from tests.support import Device, count, wait_for
from tests.support import own_stack as stack_of_its_own

MESSAGES = 4000  # two readings each


@pytest.fixture
def own_stack() -> Iterator[Settings]:
    """A stack of its own: the session's worker must not store what this one loses."""
    with stack_of_its_own("carewatch-crash-") as settings:
        yield settings


def provision(settings: Settings, device_id: str) -> str:
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        conn.execute("INSERT INTO sites VALUES ('crash', 'Crash test site')")
    with TestClient(create_app(settings)) as api:
        response = api.post(
            "/api/v1/devices",
            json={"device_id": device_id, "site_id": "crash"},
            headers={"Authorization": f"Bearer {admin_token(settings)}"},
        )
    assert response.status_code == 201, response.text
    return str(response.json()["mqtt"]["password"])


def test_sigkill_mid_stream_loses_and_duplicates_nothing(own_stack: Settings) -> None:
    settings = own_stack
    password = provision(settings, "crash-dev")
    worker = ingest_process(settings)
    worker.start()
    device = Device("127.0.0.1", settings.mqtt_port, "crash-dev", password)
    done = threading.Event()
    base_ms = int(time.time() * 1000) - MESSAGES * 10

    def publish_all() -> None:
        for seq in range(MESSAGES):
            message = {"ts": base_ms + seq * 10, "seq": seq, "hr": 60 + seq % 40, "spo2": 95}
            device.publish("carewatch/v1/crash/crash-dev/vitals", message)
            time.sleep(0.0005)  # pacing, so the kill lands mid-stream
        done.set()

    publisher = threading.Thread(target=publish_all)
    publisher.start()
    with psycopg.connect(database_url(settings), autocommit=True) as db:
        try:
            stored = wait_for(
                lambda: count(db, "SELECT count(*) FROM readings"),
                until=lambda n: n >= MESSAGES // 2,
                what="a quarter of the stream stored",
            )
            worker.kill()
            assert not done.is_set(), "the stream ended before the kill: nothing was tested"
            print(f"SIGKILL after {stored} of {2 * MESSAGES} readings stored")
            publisher.join(60)
            assert done.is_set()
            worker.start()
            wait_for(
                lambda: count(db, "SELECT count(*) FROM readings"),
                until=lambda n: n >= 2 * MESSAGES,
                timeout=60,
                what="every reading after the restart",
            )
        finally:
            device.close()
            worker.stop()
        assert count(db, "SELECT count(*) FROM readings") == 2 * MESSAGES
        assert count(db, "SELECT count(DISTINCT seq) FROM readings") == MESSAGES
        twice_each = "SELECT seq FROM readings GROUP BY seq HAVING count(*) <> 2"
        assert count(db, f"SELECT count(*) FROM ({twice_each}) x") == 0
        assert count(db, "SELECT count(*) FROM dead_letters") == 0
    log = worker.child.log_path.read_text()
    assert "session present: True" in log  # the restarted worker resumed its broker session
