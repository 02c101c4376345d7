"""The pure parts of backups: the manifest, what a target must offer, which tool lines to show,
and the broker config's service accounts."""

from __future__ import annotations

import json

import pytest

from services.operations.backup.dynsec import parse_dynsec, with_service_accounts
from services.operations.backup.errors import BadArchive, IncompatibleBackup
from services.operations.backup.manifest import (
    DatabaseFacts,
    FileEntry,
    Manifest,
    Target,
    check_compatible,
    count_mismatches,
    parse_manifest,
)
from services.operations.backup.pgtools import significant_lines
from services.operations.broker.acl import initial_config
from services.settings import MqttEndpoint

MANIFEST = Manifest(
    created_at="2026-01-01T00:00:00Z",
    carewatch_version="0.1.0",
    database=DatabaseFacts("15.13", 15, "2.19.3", 8, {"sites": 1, "readings": 5761}),
    files={"database.dump": FileEntry("ab" * 32, 1234)},
)
FITS = Target(postgres_major=15, timescaledb_versions=frozenset({"2.19.3"}), latest_migration=8)


def test_a_manifest_reads_back_as_written() -> None:
    assert parse_manifest(MANIFEST.to_json().encode()) == MANIFEST


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (b"{", BadArchive, "not valid JSON"),
        (b'{"format": "zip"}', BadArchive, "not a CareWatch backup"),
        (b'{"format": "carewatch-backup", "format_version": 99}', IncompatibleBackup, "newer"),
        (b'{"format": "carewatch-backup", "format_version": 1}', BadArchive, "lacks"),
    ],
    ids=["not-json", "other-format", "newer-format", "missing-fields"],
)
def test_bad_manifests_are_named(text: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        parse_manifest(text)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (FITS, None),
        (Target(16, frozenset({"2.19.3"}), 8), None),
        (Target(14, frozenset({"2.19.3"}), 8), "PostgreSQL 15 or newer"),
        (Target(15, frozenset({"2.20.0"}), 8), "TimescaleDB 2.19.3"),
        (Target(15, frozenset({"2.19.3"}), 7), "upgrade CareWatch first"),
        (Target(15, frozenset({"2.19.3"}), 9), None),  # older backup: migrated after restore
    ],
    ids=["same", "newer-pg", "older-pg", "other-timescaledb", "newer-schema", "older-schema"],
)
def test_what_a_target_must_offer(target: Target, message: str | None) -> None:
    if message is None:
        check_compatible(MANIFEST, target)
    else:
        with pytest.raises(IncompatibleBackup, match=message):
            check_compatible(MANIFEST, target)


def test_count_mismatches_name_each_table() -> None:
    assert count_mismatches({"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 0}) == []
    assert count_mismatches({"a": 1, "b": 2}, {"a": 1}) == ["b: 0 rows, the backup has 2"]


def test_expected_timescaledb_warnings_are_not_shown() -> None:
    lines = [
        'pg_dump: dumping contents of table "public.sites"',
        "pg_dump: warning: there are circular foreign-key constraints on this table:",
        "pg_dump: detail: hypertable",
        "pg_dump: hint: You might not be able to restore the dump without ...",
        "pg_dump: warning: something else",
        "pg_dump: detail: its detail",
        "pg_dump: error: connection failed",
    ]
    assert significant_lines(lines) == [
        "pg_dump: warning: something else",
        "pg_dump: detail: its detail",
        "pg_dump: error: connection failed",
    ]


def test_service_accounts_get_the_targets_passwords_and_devices_stay() -> None:
    config = initial_config(
        admin_user="carewatch-admin",
        admin_password="old-admin",
        ingest_user="carewatch-ingest",
        ingest_password="old-ingest",
    )
    config["clients"].append({"username": "dev-1", "password": "h", "salt": "s", "roles": []})
    parsed = parse_dynsec(json.dumps(config).encode())
    accounts = [
        MqttEndpoint("h", 1883, "carewatch-admin", "new-admin"),
        MqttEndpoint("h", 1883, "someone-else", "pw"),
    ]
    updated, missing = with_service_accounts(parsed, accounts)
    assert missing == ["someone-else"]
    before = {c["username"]: c for c in config["clients"]}
    after = {c["username"]: c for c in updated["clients"]}
    assert after["dev-1"] == before["dev-1"]
    assert after["carewatch-ingest"] == before["carewatch-ingest"]
    assert after["carewatch-admin"]["password"] != before["carewatch-admin"]["password"]
    assert after["carewatch-admin"]["roles"] == before["carewatch-admin"]["roles"]
