"""`carewatch backup` and `carewatch restore`: the steps, in order, against the deployment the
settings describe (the embedded database and broker, or external ones)."""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psycopg

from services.db.migrate import apply_migrations
from services.errors import ConfigError
from services.operations.backup import database, pgtools
from services.operations.backup.archive import open_archive, write_archive
from services.operations.backup.dynsec import client_count, parse_dynsec, with_service_accounts
from services.operations.backup.errors import BackupError, TargetNotEmpty
from services.operations.backup.manifest import Manifest, check_compatible, count_mismatches
from services.operations.backup.progress import Steps
from services.operations.local.postgres import EmbeddedPostgres
from services.operations.local.stack import LocalStack
from services.operations.local.system import RunAs
from services.settings import (
    LOCAL_DB_NAME,
    LOCAL_DB_USER,
    MqttEndpoint,
    Settings,
    database_url,
    load_or_create_secrets,
    mqtt_admin_endpoint,
    mqtt_ingest_endpoint,
    read_secrets,
)

log = logging.getLogger("carewatch.backup")


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def owner_database(settings: Settings, *, restoring: bool) -> Iterator[str]:
    """The URL of the database as its owner. Locally, a running `carewatch up` serves a backup
    (pg_dump reads a snapshot while it runs) but must be stopped for a restore; otherwise the
    embedded server is started for the duration (and created, for a restore into a new dir)."""
    if not settings.local_database:
        yield database_url(settings)
        return
    data_dir = Path(settings.data_dir).resolve()
    if _listening(settings.pg_port):
        if restoring:
            raise BackupError(
                f"the local PostgreSQL (127.0.0.1:{settings.pg_port}) is running: stop "
                "`carewatch up` and every CareWatch service before restoring"
            )
        yield database_url(settings)
        return
    secrets = load_or_create_secrets(data_dir) if restoring else read_secrets(data_dir)
    server = EmbeddedPostgres(
        data_dir, port=settings.pg_port, superuser=LOCAL_DB_USER, password=secrets["pg_password"]
    )
    if not restoring and not server.initialised:
        raise BackupError(f"no local database under {data_dir} (CAREWATCH_DATA_DIR)")
    server.init()
    server.start()
    try:
        server.ensure_database(LOCAL_DB_NAME)
        yield database_url(settings)
    finally:
        server.stop()


def broker_file(settings: Settings, given: Path | None) -> Path | None:
    """Where the broker keeps its dynamic-security config: the embedded broker's file, or the
    one named on the command line for an external Mosquitto."""
    if given is not None:
        return given
    if settings.local_broker:
        return Path(settings.data_dir).resolve() / "mosquitto" / "dynamic-security.json"
    return None


def _carewatch_version() -> str:
    try:
        return version("carewatch")
    except PackageNotFoundError:
        return "unknown"


def default_name(now: datetime) -> str:
    return f"carewatch-backup-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar"


@contextmanager
def _explained() -> Iterator[None]:
    """Database and file errors as BackupError: one clear line instead of a traceback (their
    messages carry no passwords: those travel only in PGPASSWORD and connection objects)."""
    try:
        yield
    except psycopg.Error as exc:
        raise BackupError(f"PostgreSQL: {str(exc).strip()}") from None
    except OSError as exc:
        raise BackupError(str(exc)) from None


def backup(
    settings: Settings, dest: Path | None, *, dynsec_file: Path | None, now: datetime, ui: Steps
) -> tuple[Path, Manifest]:
    with _explained():
        return _backup(settings, dest, dynsec_file=dynsec_file, now=now, ui=ui)


def restore(
    settings: Settings, source: Path, *, force: bool, dynsec_file: Path | None, ui: Steps
) -> RestoreReport:
    """Restore a backup file into the deployment the settings describe."""
    with _explained():
        return _restore(settings, source, force=force, dynsec_file=dynsec_file, ui=ui)


def _backup(
    settings: Settings, dest: Path | None, *, dynsec_file: Path | None, now: datetime, ui: Steps
) -> tuple[Path, Manifest]:
    """Dump the database from one exported snapshot, count every table's rows in that same
    snapshot, add the broker's accounts, and write the backup file."""
    dest = dest or Path(default_name(now))
    if dest.is_dir():
        dest = dest / default_name(now)
    if dest.exists():
        raise BackupError(f"{dest} exists: choose another name (a backup never overwrites)")
    source = broker_file(settings, dynsec_file)
    if dynsec_file is not None and not dynsec_file.is_file():
        raise BackupError(f"{dynsec_file}: no such broker config file")
    with (
        owner_database(settings, restoring=False) as url,
        tempfile.TemporaryDirectory(prefix=".carewatch-backup-", dir=dest.parent) as work,
        psycopg.connect(url) as conn,
    ):
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = str(row[0])
        # The broker file is read right after the snapshot: a device provisioned in between
        # has a broker account but no row, which is harmless (the worker rejects it).
        dynsec = source.read_bytes() if source is not None and source.exists() else None
        if dynsec is not None:
            parse_dynsec(dynsec)
        dump = Path(work) / "database.dump"
        tables = database.public_tables(conn)
        with ui.step("counting rows in the snapshot", total=len(tables)) as advance:
            counts = database.row_counts(conn, tables, advance)
        facts = database.database_facts(conn, counts)
        with ui.step("dumping the database (pg_dump)") as advance:
            # The exporting transaction stays open until pg_dump has finished.
            warnings = pgtools.dump(url, snapshot=snapshot, out=dump, on_table=advance)
        conn.rollback()
        for line in warnings:
            ui.note(f"[yellow]{line}")
        manifest = Manifest(
            created_at=now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            carewatch_version=_carewatch_version(),
            database=facts,
            broker_clients=None if dynsec is None else client_count(parse_dynsec(dynsec)),
        )
        with ui.step("writing the backup file"):
            manifest = write_archive(dest, dump=dump, dynsec=dynsec, manifest=manifest)
    return dest, manifest


@dataclass(slots=True)
class RestoreReport:
    manifest: Manifest
    migrations_applied: list[str] = field(default_factory=list)
    broker_file: Path | None = None
    notes: list[str] = field(default_factory=list)


def _service_accounts(settings: Settings) -> list[MqttEndpoint]:
    accounts = []
    for endpoint in (mqtt_admin_endpoint, mqtt_ingest_endpoint):
        try:
            accounts.append(endpoint(settings))
        except ConfigError:
            continue
    return accounts


def _check_target(url: str, manifest: Manifest, *, force: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        check_compatible(manifest, database.target_facts(conn))
        occupied = database.occupied_tables(conn)
        sessions = database.other_sessions(conn)
    if occupied and not force:
        listed = ", ".join(occupied[:5]) + (" …" if len(occupied) > 5 else "")
        raise TargetNotEmpty(
            f"the target database already holds data ({listed}): restore into an empty "
            "database, or pass --force to replace everything in it"
        )
    if sessions and not force:
        raise BackupError(
            f"{sessions} other session(s) are connected to the target database: stop every "
            "CareWatch service first (or pass --force)"
        )


def _write_broker_file(path: Path, config: bytes, *, local: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.replace(path.with_name(path.name + ".before-restore"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(config)
    if local:
        RunAs.for_server("mosquitto").own(path)


def _restore(
    settings: Settings, source: Path, *, force: bool, dynsec_file: Path | None, ui: Steps
) -> RestoreReport:
    target_file = broker_file(settings, dynsec_file)
    if settings.local_broker and dynsec_file is None and _listening(settings.mqtt_port):
        raise BackupError(
            f"the local Mosquitto (port {settings.mqtt_port}) is running: stop `carewatch up` "
            "before restoring"
        )
    with tempfile.TemporaryDirectory(prefix="carewatch-restore-") as work:
        with ui.step("checking the backup file"):
            opened = open_archive(source, Path(work))
            items = pgtools.toc_entries(opened.dump)
        manifest = opened.manifest
        report = RestoreReport(manifest=manifest)
        with owner_database(settings, restoring=True) as url:
            _check_target(url, manifest, force=force)
            with ui.step("emptying the target database"), psycopg.connect(url) as conn:
                # The migrations first: the service roles (0008) are cluster-wide and
                # pg_dump leaves them out, but the dump's GRANTs name them.
                conn.autocommit = True
                apply_migrations(conn)
                database.wipe(url)
            database.pre_restore(url, manifest.database.timescaledb_version)
            try:
                with ui.step("restoring the database (pg_restore)", total=items) as advance:
                    warnings = pgtools.restore(url, archive=opened.dump, on_item=advance)
            finally:
                # Never leave the database in restoring mode (background jobs stopped).
                database.post_restore(url)
            report.notes += warnings
            with ui.step("analysing the restored tables"):
                database.analyze(url)
            with psycopg.connect(url, autocommit=True) as conn:
                tables = database.public_tables(conn)
                with ui.step("verifying row counts", total=len(tables)) as advance:
                    found = database.row_counts(conn, tables, advance)
                mismatches = count_mismatches(manifest.database.tables, found)
                if mismatches:
                    raise BackupError("restored, but row counts differ:\n" + "\n".join(mismatches))
                # A backup from an older CareWatch: bring its schema up to this one.
                applied = apply_migrations(conn)
                report.migrations_applied = [f"{m.version:04d}_{m.name}" for m in applied]
            if settings.local_database:
                # As every `carewatch up` does: the roles log in with this data dir's secrets.
                LocalStack(settings).set_role_passwords(load_or_create_secrets(settings.data_dir))
    if opened.dynsec is not None:
        if target_file is None:
            report.notes.append(
                "the backup holds the broker's device accounts: restore them with "
                "--dynsec-file PATH (the external Mosquitto's dynamic-security file, broker "
                "stopped)"
            )
        else:
            config, missing = with_service_accounts(
                parse_dynsec(opened.dynsec), _service_accounts(settings)
            )
            for username in missing:
                report.notes.append(f"the broker config has no account {username}: create it")
            body = (json.dumps(config, indent=1) + "\n").encode()
            _write_broker_file(target_file, body, local=dynsec_file is None)
            report.broker_file = target_file
    return report
