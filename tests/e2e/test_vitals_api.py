"""GET /api/v1/residents/{id}/vitals through the real app and database: each source answers
with the buckets the readings give, minutes not yet refreshed come from raw, bad parameters are
422s naming the parameter, an unknown resident is a 404."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.operations.local.system import free_port
from services.settings import Settings
from services.trends.grid import HOUR, MINUTE, floor_to
from services.trends.refresh import LOCK_KEY
from tests.conftest import ingest_process
from tests.services.trends.support import Reading, Stats, expected, refresh, store
from tests.support import SITE, Conn, Device, count, new_resident, wait_for

pytestmark = pytest.mark.services

NOW = floor_to(datetime.now(UTC), HOUR)  # the module's data ends an hour or so before now
DAY = timedelta(days=1)


def url(resident_id: int) -> str:
    return f"/api/v1/residents/{resident_id}/vitals"


def history() -> list[Reading]:
    """30 days of hr every 5 minutes and spo2 every 10 (a sawtooth, so buckets differ)."""
    start = NOW - 30 * DAY
    out: list[Reading] = []
    for i in range(30 * 24 * 12):
        ts = start + i * 5 * MINUTE + timedelta(seconds=17)
        out.append((ts, "hr", float(60 + i % 37)))
        if i % 2 == 0:
            out.append((ts, "spo2", float(90 + i % 9)))
    return out


def last_hour() -> list[Reading]:
    """The last hour at 1 Hz."""
    return [(NOW - HOUR + timedelta(seconds=s), "hr", float(55 + s % 61)) for s in range(3600)]


@pytest.fixture(scope="module")
def module_db(db_url: str) -> Iterator[Conn]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def resident(module_db: Conn, ward: str) -> tuple[int, list[Reading]]:
    rid = new_resident(module_db, "Trend API Resident")
    readings = history() + last_hour()
    store(module_db, rid, history())
    store(module_db, rid, last_hour(), device="trend-dev-1hz")  # a second device, same resident
    refresh(module_db)
    return rid, readings


def points(body: dict[str, Any], metric: str) -> dict[tuple[str, datetime], Stats]:
    (series,) = [s for s in body["series"] if s["metric"] == metric]
    return {
        (metric, datetime.fromisoformat(p["ts"])): (p["min"], p["avg"], p["max"], p["count"])
        for p in series["points"]
    }


def within(
    readings: list[Reading], start: datetime, end: datetime, width: timedelta, metric: str
) -> dict[tuple[str, datetime], Stats]:
    picked = [r for r in readings if start <= r[0] < end and r[1] == metric]
    return expected(picked, width)


def close(got: dict[tuple[str, datetime], Stats], want: dict[tuple[str, datetime], Stats]) -> None:
    assert got.keys() == want.keys()
    for key, (lo, avg, hi, n) in want.items():
        got_lo, got_avg, got_hi, got_n = got[key]
        assert (got_lo, got_hi, got_n) == (lo, hi, n), key
        assert got_avg == pytest.approx(avg, rel=1e-12), key


def get(api: TestClient, rid: int, **params: Any) -> dict[str, Any]:
    response = api.get(url(rid), params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_thirty_days_hourly_from_the_hourly_rollup(
    api: TestClient, resident: tuple[int, list[Reading]]
) -> None:
    rid, readings = resident
    start, end = NOW - 30 * DAY, NOW
    window = dict(start=start.isoformat(), end=end.isoformat())
    body = get(api, rid, metric=["hr", "spo2"], bucket="1h", **window)
    assert (body["resident_id"], body["metrics"], body["bucket"]) == (rid, ["hr", "spo2"], "1h")
    assert body["source"] == "rollup_1h"
    assert [s["source"] for s in body["segments"]] == ["rollup_1h"]
    assert body["stale_from"] is None
    for metric in ("hr", "spo2"):
        close(points(body, metric), within(readings, start, end, HOUR, metric))
    assert len(points(body, "hr")) == 720


def test_a_day_at_15_minutes_from_the_minute_rollup(
    api: TestClient, resident: tuple[int, list[Reading]]
) -> None:
    rid, readings = resident
    start, end = NOW - 3 * DAY + 7 * MINUTE, NOW - 2 * DAY
    body = get(api, rid, metric="hr", start=start.isoformat(), end=end.isoformat(), bucket="15m")
    assert body["source"] == "rollup_1m"
    aligned = floor_to(start, 15 * MINUTE)
    assert datetime.fromisoformat(body["start"]) == aligned
    close(points(body, "hr"), within(readings, aligned, end, 15 * MINUTE, "hr"))


def test_an_hour_at_1_hz_from_raw(api: TestClient, resident: tuple[int, list[Reading]]) -> None:
    rid, readings = resident
    start = NOW - HOUR
    body = get(api, rid, metric="hr", start=start.isoformat(), end=NOW.isoformat(), bucket="1m")
    assert body["source"] == "raw"
    got = points(body, "hr")
    # 60 readings a minute from the 1 Hz device, one more every 5 minutes from the other.
    assert len(got) == 60 and sorted({p[3] for p in got.values()}) == [60, 61]
    close(got, within(readings, start, NOW, MINUTE, "hr"))


def test_the_default_bucket_and_range(api: TestClient, resident: tuple[int, list[Reading]]) -> None:
    rid, _ = resident
    body = get(api, rid, metric="hr")
    assert (body["bucket"], body["source"]) == ("5m", "rollup_1m")
    end = datetime.fromisoformat(body["end"])
    assert end - datetime.fromisoformat(body["start"]) in (DAY, DAY + 5 * MINUTE)


def test_readings_not_yet_refreshed_are_answered_from_raw(
    api: TestClient, module_db: Conn, db_url: str, resident: tuple[int, list[Reading]]
) -> None:
    rid, readings = resident
    fresh = [(NOW + timedelta(seconds=s), "hr", 300.0 - s % 50) for s in range(0, 600, 2)]
    pending_from = NOW - 2 * HOUR + 20 * MINUTE
    late = [(pending_from + timedelta(seconds=1), "hr", 249.0)]  # into a minute with readings
    start, end = NOW - 7 * DAY, NOW + HOUR
    params = dict(metric="hr", start=start.isoformat(), end=end.isoformat(), bucket="1h")
    with psycopg.connect(db_url, autocommit=True) as locker, locker.transaction():
        locker.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])  # no refresh meanwhile
        store(module_db, rid, fresh + late)
        body = get(api, rid, **params)
        assert [s["source"] for s in body["segments"]] == ["rollup_1h", "rollup_1m", "raw"]
        assert datetime.fromisoformat(body["segments"][-1]["start"]) == pending_from
        want = within(readings + fresh + late, start, end, HOUR, "hr")
        close(points(body, "hr"), want)
    refresh(module_db)
    body = get(api, rid, **params)
    assert [s["source"] for s in body["segments"]] == ["rollup_1h"]
    close(points(body, "hr"), want)


INVALID = [
    ("end before start", dict(start="2026-01-02T00:00:00Z", end="2026-01-01T00:00:00Z"), "end"),
    ("over 90 days", dict(start="2025-01-01T00:00:00Z", end="2025-06-01T00:00:00Z"), "end"),
    ("naive start", dict(start="2026-01-01T00:00:00", end="2026-01-02T00:00:00Z"), "start"),
    ("unknown bucket", dict(bucket="2h"), "bucket"),
    (
        "too many points",
        dict(start="2026-01-01T00:00:00Z", end="2026-01-05T00:00:00Z", bucket="1m"),
        "bucket",
    ),
    ("unknown metric", dict(metric="glucose"), "metric"),
    ("no metric", dict(metric=None), "metric"),
    ("not a time", dict(start="yesterday"), "start"),
]


@pytest.mark.parametrize(("params", "field"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_bad_parameters_are_422_naming_the_parameter(
    api: TestClient, resident: tuple[int, list[Reading]], params: dict[str, Any], field: str
) -> None:
    rid, _ = resident
    query = {k: v for k, v in {"metric": "hr", **params}.items() if v is not None}
    response = api.get(url(rid), params=query)
    assert response.status_code == 422, response.text
    assert field in [e["loc"][1] for e in response.json()["detail"]]


def test_unknown_resident_is_404(api: TestClient) -> None:
    response = api.get(url(2**62), params={"metric": "hr"})
    assert response.status_code == 404
    assert response.json()["detail"] == f"no resident {2**62}"


def test_the_admin_token_is_required(api: TestClient, resident: tuple[int, list[Reading]]) -> None:
    rid, _ = resident
    response = api.get(url(rid), params={"metric": "hr"}, headers={"Authorization": ""})
    assert response.status_code == 401


def test_the_ingest_worker_keeps_the_rollups(
    api: TestClient, db: Conn, settings: Settings, make_device: Callable[..., Device]
) -> None:
    """Readings published over MQTT (a backfill, three hours old) reach the rollups through the
    worker's own refresh, which runs as it starts and then every minute."""
    rid = new_resident(db, "Worker Rollups")
    device = make_device(resident_id=rid)
    start = NOW - 3 * HOUR
    # A worker of its own (its own MQTT session and metrics port): the session's shared
    # worker may be running too, and `start` must wait for this one, not answer for that one.
    own = settings.model_copy(update={"ingest_metrics_port": free_port()})
    worker = ingest_process(own)
    assert worker.child.env is not None
    worker.child.env["CAREWATCH_INGEST_CLIENT_ID"] = "carewatch-ingest-rollups"
    worker.start()
    try:
        for i in range(30):
            ts_ms = int((start + i * MINUTE).timestamp() * 1000)
            device.publish(
                f"carewatch/v1/{SITE}/{device.device_id}/vitals",
                {"ts": ts_ms, "seq": i, "hr": 70 + i, "spo2": 96},
            )
        wait_for(
            lambda: count(db, "SELECT count(*) FROM readings WHERE resident_id = %s", rid),
            until=lambda n: n == 60,
            what="the readings stored",
        )
        worker.stop()
        worker.start()  # refreshes before its first batch
        wait_for(
            lambda: count(db, "SELECT count(*) FROM readings_1m WHERE resident_id = %s", rid),
            until=lambda n: n == 60,
            what="the minute rollups",
        )
    finally:
        worker.stop()
    window = dict(start=(NOW - DAY).isoformat(), end=NOW.isoformat())
    body = get(api, rid, metric="hr", bucket="1h", **window)
    assert [s["source"] for s in body["segments"]] == ["rollup_1h"]
    assert points(body, "hr") == {("hr", start): (70.0, 84.5, 99.0, 30)}
