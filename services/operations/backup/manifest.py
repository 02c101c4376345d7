"""The manifest of a backup: what it holds and what it needs to be restored (pure, no I/O)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from services.operations.backup.errors import BadArchive, IncompatibleBackup

FORMAT = "carewatch-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DUMP_NAME = "database.dump"
DYNSEC_NAME = "broker/dynamic-security.json"


@dataclass(frozen=True, slots=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    postgres_version: str  # e.g. "15.13"
    postgres_major: int
    timescaledb_version: str
    migration_version: int
    # Rows per table of the public schema, counted in the dump's own snapshot.
    tables: dict[str, int]


@dataclass(frozen=True, slots=True)
class Manifest:
    created_at: str  # RFC 3339, UTC
    carewatch_version: str
    database: DatabaseFacts
    files: dict[str, FileEntry] = field(default_factory=dict)
    broker_clients: int | None = None  # accounts in the broker file, when it is included
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @property
    def has_broker(self) -> bool:
        return DYNSEC_NAME in self.files


def parse_manifest(text: bytes) -> Manifest:
    """A manifest from its JSON, or BadArchive saying what is wrong with it."""
    try:
        raw: Any = json.loads(text)
    except ValueError:
        raise BadArchive("the backup's manifest is not valid JSON (corrupt backup)") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BadArchive("not a CareWatch backup (its manifest has no carewatch-backup format)")
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IncompatibleBackup(
            f"backup format {version!r} is newer than this CareWatch reads ({FORMAT_VERSION}): "
            "restore it with the CareWatch version that wrote it, or a newer one"
        )
    try:
        db = raw["database"]
        return Manifest(
            created_at=str(raw["created_at"]),
            carewatch_version=str(raw["carewatch_version"]),
            database=DatabaseFacts(
                postgres_version=str(db["postgres_version"]),
                postgres_major=int(db["postgres_major"]),
                timescaledb_version=str(db["timescaledb_version"]),
                migration_version=int(db["migration_version"]),
                tables={str(k): int(v) for k, v in dict(db["tables"]).items()},
            ),
            files={
                str(name): FileEntry(sha256=str(e["sha256"]), bytes=int(e["bytes"]))
                for name, e in dict(raw["files"]).items()
            },
            broker_clients=(
                None if raw.get("broker_clients") is None else int(raw["broker_clients"])
            ),
            format_version=version,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadArchive(f"the backup's manifest lacks or garbles a field ({exc})") from None


@dataclass(frozen=True, slots=True)
class Target:
    """What the database we restore into offers."""

    postgres_major: int
    timescaledb_versions: frozenset[str]  # installed, i.e. CREATE EXTENSION … VERSION works
    latest_migration: int  # the newest migration this CareWatch knows


def check_compatible(manifest: Manifest, target: Target) -> None:
    """Raise IncompatibleBackup unless `target` can take this backup as TimescaleDB documents:
    the same extension version, and a PostgreSQL at least as new as the dump's."""
    db = manifest.database
    if target.postgres_major < db.postgres_major:
        raise IncompatibleBackup(
            f"the backup comes from PostgreSQL {db.postgres_major}; the target runs "
            f"{target.postgres_major}: restore into PostgreSQL {db.postgres_major} or newer"
        )
    if db.timescaledb_version not in target.timescaledb_versions:
        have = ", ".join(sorted(target.timescaledb_versions)) or "none"
        raise IncompatibleBackup(
            f"the backup needs TimescaleDB {db.timescaledb_version} installed on the target "
            f"(installed: {have}); install that version, restore, then ALTER EXTENSION "
            "timescaledb UPDATE"
        )
    if db.migration_version > target.latest_migration:
        raise IncompatibleBackup(
            f"the backup's schema is at migration {db.migration_version}, newer than this "
            f"CareWatch knows ({target.latest_migration}): upgrade CareWatch first"
        )


def count_mismatches(expected: dict[str, int], found: dict[str, int]) -> list[str]:
    """Tables whose restored row count differs from the manifest's, as readable lines."""
    return [
        f"{table}: {found.get(table, 0)} rows, the backup has {rows}"
        for table, rows in sorted(expected.items())
        if found.get(table, 0) != rows
    ]
