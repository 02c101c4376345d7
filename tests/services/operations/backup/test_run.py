"""`carewatch backup` / `carewatch restore` as child processes, on stacks of their own: a
backup of a ward with data, restored into a new data dir, holds the same rows, and the
restored deployment works (the API over a hypertable, a device's broker account)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.auth.passwords import hash_password
from services.operations.local.env import scratch_settings, service_env
from services.operations.local.stack import LocalStack
from services.settings import Settings, admin_token, database_url
from tests.support import PASSWORD, SITE, UNIT, Device, count, new_resident

# Whole-table checksums: every row, in a fixed order.
CHECKED = ("readings", "residents", "devices", "users", "alerts", "incidents", "audit_log")


def carewatch(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=service_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [
            str(r[0])
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {t: count(conn, f'SELECT count(*) FROM "{t}"') for t in tables}


def checksums(url: str) -> dict[str, str]:
    query = "SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) FROM {} x"
    with psycopg.connect(url) as conn:
        return {t: str(conn.execute(query.format(t).encode()).fetchone()) for t in CHECKED}


@dataclass
class Source:
    settings: Settings
    device_id: str
    device_password: str
    resident_id: int
    counts: dict[str, int]
    checksums: dict[str, str]


def populate(settings: Settings) -> tuple[str, str, int]:
    url = database_url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO sites VALUES (%s, 'Backup site')", [SITE])
        conn.execute("INSERT INTO units VALUES (%s, %s, 'Backup unit')", [SITE, UNIT])
        resident = new_resident(conn, "Ada")
        new_resident(conn, "Grace")
        conn.execute(
            "INSERT INTO users (username, password_hash, role) VALUES ('bk-admin', %s, 'admin')",
            [hash_password(PASSWORD)],
        )
    with TestClient(create_app(settings)) as api:
        api.headers["Authorization"] = f"Bearer {admin_token(settings)}"
        made = api.post(
            "/api/v1/devices", json={"device_id": "bk-w1", "site_id": SITE, "kind": "wearable"}
        )
        assert made.status_code == 201, made.text
        put = api.put(
            "/api/v1/devices/bk-w1/resident",
            json={"resident_id": resident, "at": "2000-01-01T00:00:00Z"},
        )
        assert put.status_code == 204, put.text
        assert api.get(f"/api/v1/residents/{resident}").status_code == 200  # audited
    with psycopg.connect(url, autocommit=True) as conn:
        # Five days at one reading a minute: five daily chunks.
        conn.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source, received_at)"
            " SELECT ts, 'bk-w1', %s, 'hr', 60 + (extract(epoch FROM ts)::bigint %% 40), 'device',"
            " ts FROM generate_series(now() - interval '4 days', now(), interval '1 minute') ts",
            [resident],
        )
        conn.execute(
            "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
            " severity, title, opened_at, updated_at) VALUES (1, 'resident', %s, %s, %s,"
            " 'notified', 'high', 'Fall', now(), now())",
            [SITE, UNIT, resident],
        )
        conn.execute(
            "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject,"
            " resident_id, title, severity, opened_at, first_ts, last_ts, count, updated_at)"
            " VALUES (1, 1, 'fall', 'fall:1', 'resident', %s, 'Fall', 'high', now(), now(),"
            " now(), 1, now())",
            [resident],
        )
    return "bk-w1", made.json()["mqtt"]["password"], resident


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    settings = scratch_settings("carewatch-bk-src-")
    stack = LocalStack(settings)
    try:
        stack.start()
        device_id, password, resident = populate(settings)
        url = database_url(settings)
        with psycopg.connect(url) as conn:
            chunks = count(conn, "SELECT count(*) FROM show_chunks('readings')")
        assert chunks >= 4
        yield Source(settings, device_id, password, resident, table_counts(url), checksums(url))
    finally:
        stack.stop()
        shutil.rmtree(settings.data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def backup_file(source: Source) -> Path:
    """Taken while the source stack runs, as an operator would."""
    out = Path(source.settings.data_dir) / "backups"
    out.mkdir()
    done = carewatch(source.settings, "backup", str(out))
    assert done.returncode == 0, done.stderr
    assert "backup written" in done.stdout
    (path,) = out.glob("carewatch-backup-*.tar")
    assert path.stat().st_mode & 0o077 == 0  # it holds password hashes
    return path


@pytest.fixture
def target() -> Iterator[Settings]:
    settings = scratch_settings("carewatch-bk-dst-")
    try:
        yield settings
    finally:
        shutil.rmtree(settings.data_dir, ignore_errors=True)


def test_a_restored_backup_holds_every_row_and_works(
    source: Source, backup_file: Path, target: Settings
) -> None:
    # A new data dir, never started: the disaster-recovery case.
    done = carewatch(target, "restore", str(backup_file))
    assert done.returncode == 0, done.stderr
    assert "restored the backup" in done.stdout
    secrets = json.loads((Path(target.data_dir) / "secrets.json").read_text())
    assert not any(secret in done.stdout + done.stderr for secret in secrets.values())

    stack = LocalStack(target)
    stack.start()
    try:
        url = database_url(target)
        assert table_counts(url) == source.counts
        assert checksums(url) == source.checksums
        # The device logs in to the new broker with the password it was provisioned with.
        device = Device("127.0.0.1", target.mqtt_port, source.device_id, source.device_password)
        try:
            assert not device.connect_result.is_failure, device.connect_result
        finally:
            device.close()
        # A restored user logs in; trends read the readings hypertable.
        with TestClient(create_app(target)) as api:
            token = api.post(
                "/api/v1/auth/token", data={"username": "bk-admin", "password": PASSWORD}
            )
            assert token.status_code == 200, token.text
            vitals = api.get(
                f"/api/v1/residents/{source.resident_id}/vitals",
                params={"metric": "hr"},
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
            assert vitals.status_code == 200, vitals.text
            assert vitals.json()["series"][0]["points"], vitals.text
    finally:
        stack.stop()

    # Now it holds data: a second restore refuses, unless told to replace it.
    again = carewatch(target, "restore", str(backup_file))
    assert again.returncode == 1
    assert "already holds data" in again.stderr
    forced = carewatch(target, "restore", "--force", str(backup_file))
    assert forced.returncode == 0, forced.stderr


def test_restore_refuses_while_the_stack_runs(source: Source, backup_file: Path) -> None:
    done = carewatch(source.settings, "restore", str(backup_file))
    assert done.returncode == 1
    assert "is running" in done.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) // 2], "truncated or corrupt"),
        (lambda data: data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:], "corrupt"),
        (lambda data: b"not a backup at all\n" * 100, "not a readable backup"),
    ],
    ids=["truncated", "flipped-byte", "not-a-tar"],
)
def test_a_damaged_backup_is_refused_clearly(
    backup_file: Path, target: Settings, damage: object, message: str
) -> None:
    assert callable(damage)
    bad = Path(target.data_dir) / "bad.tar"
    bad.write_bytes(damage(backup_file.read_bytes()))
    done = carewatch(target, "restore", str(bad))
    assert done.returncode == 1
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    # Nothing was started or created for it.
    assert not (Path(target.data_dir) / "pg").exists()
