"""The demo's week of history (`carewatch demo backfill`, which `carewatch up` runs on a fresh
data dir): a demo resident's 7-day trend has hourly data from the rollups at once, nothing
was paged or even put to the detector (no candidate, alert, incident or notification row),
and a second run writes nothing. A stack of its own: the demo ward is not the test ward."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.operations.local.env import scratch_settings, service_env
from services.operations.local.stack import LocalStack
from services.settings import Settings, admin_token, database_url
from tests.e2e.test_up import CLI
from tests.support import count

pytestmark = pytest.mark.services

PAGING_TABLES = ("alert_candidates", "alerts", "incidents", "alert_events", "notifications")


@pytest.fixture
def demo_stack() -> Iterator[Settings]:
    settings = scratch_settings("carewatch-history-")
    stack = LocalStack(settings)
    stack.start()
    try:
        yield settings
    finally:
        stack.stop()


def backfill(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "demo", "backfill", "--residents", "1", "--days", "7"],
        env=service_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_demo_history_fills_the_week_and_pages_nobody(demo_stack: Settings) -> None:
    first = backfill(demo_stack)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "nothing paged" in first.stdout, first.stdout
    with psycopg.connect(database_url(demo_stack), autocommit=True) as db:
        readings = count(db, "SELECT count(*) FROM readings")
        assert readings > 0
        assert {t: count(db, f"SELECT count(*) FROM {t}") for t in PAGING_TABLES} == dict.fromkeys(
            PAGING_TABLES, 0
        )
        assert count(db, "SELECT count(*) FROM rollup_dirty") == 0  # rollups refreshed
        row = db.execute("SELECT min(resident_id) FROM residents WHERE site_id = 'demo'").fetchone()
        assert row is not None and row[0] is not None
        resident = int(row[0])

        again = backfill(demo_stack)
        assert again.returncode == 0 and "nothing written" in again.stdout, again.stdout
        assert count(db, "SELECT count(*) FROM readings") == readings

    end = datetime.now(UTC)
    with TestClient(create_app(demo_stack)) as api:
        week = api.get(
            f"/api/v1/residents/{resident}/vitals",
            params={
                "metric": ["hr", "spo2"],
                "start": (end - timedelta(days=7)).isoformat(),
                "end": end.isoformat(),
                "bucket": "1h",
            },
            headers={"Authorization": f"Bearer {admin_token(demo_stack)}"},
        )
    assert week.status_code == 200, week.text
    trend = week.json()
    assert trend["stale_from"] is None  # every hour counted: the rollups are up to date
    for series in trend["series"]:
        hours = [p for p in series["points"] if p["count"]]
        assert len(hours) >= 6 * 24, (series["metric"], len(hours))  # most of the week
        assert hours[0]["ts"] < (end - timedelta(days=6)).isoformat()
