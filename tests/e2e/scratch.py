"""Helpers of the scale-out tests, which run on a stack of their own (tests.support.own_stack):
the session's ingest worker and detector subscribe to every message, so they must not see the
messages these tests hand to several workers or partitions."""

from __future__ import annotations

import re
import urllib.request

import psycopg
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.settings import Settings, admin_token, database_url
from tests.conftest import ServiceProcess


def stop_all(*services: ServiceProcess) -> None:
    """Stop every service still running, even when one fails to stop cleanly (no process may
    outlive the test); then report the failures."""
    failures = []
    for service in services:
        if service.child.alive():
            try:
                service.stop()
            except AssertionError as exc:
                failures.append(str(exc))
    assert not failures, failures


def add_site(settings: Settings, site_id: str, unit_id: str = "u1") -> None:
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        conn.execute("INSERT INTO sites VALUES (%s, %s)", [site_id, f"Site {site_id}"])
        conn.execute("INSERT INTO units VALUES (%s, %s, 'Unit')", [site_id, unit_id])


def provision(
    settings: Settings, device_id: str, site_id: str, resident_id: int | None = None
) -> str:
    """Provision a device through the API (assigned to `resident_id` if given); its password."""
    auth = {"Authorization": f"Bearer {admin_token(settings)}"}
    with TestClient(create_app(settings)) as api:
        response = api.post(
            "/api/v1/devices", json={"device_id": device_id, "site_id": site_id}, headers=auth
        )
        assert response.status_code == 201, response.text
        if resident_id is not None:
            put = api.put(
                f"/api/v1/devices/{device_id}/resident",
                json={"resident_id": resident_id, "at": "2000-01-01T00:00:00Z"},
                headers=auth,
            )
            assert put.status_code == 204, put.text
    return str(response.json()["mqtt"]["password"])


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def metric(text: str, name: str, labels: str = "") -> float:
    """One sample of a Prometheus text exposition (`labels` as printed, e.g. `a="b",c="d"`);
    0 when absent."""
    wanted = f"{name}{{{labels}}}" if labels else name
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == wanted:
            return float(value)
    return 0.0


def metric_sum(text: str, name: str) -> float:
    """The sum of a metric's samples over all its labels."""
    pattern = re.compile(rf"^{re.escape(name)}(\{{.*\}})? (\S+)$")
    return sum(float(m.group(2)) for line in text.splitlines() if (m := pattern.match(line)))
