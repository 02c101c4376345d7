"""`carewatch backup` and `carewatch restore` (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from services.cli.common import fail, setup_logging
from services.errors import CareWatchError
from services.settings import Settings

DynsecOption = Annotated[
    Path | None,
    typer.Option(
        "--dynsec-file",
        help="An external Mosquitto's dynamic-security.json (device accounts); "
        "the embedded broker's is used by default.",
    ),
]


def backup(
    path: Annotated[
        Path | None, typer.Argument(help="The backup file, or a directory to put it in.")
    ] = None,
    dynsec_file: DynsecOption = None,
) -> None:
    """Back up the database (one consistent pg_dump snapshot) and the broker's device accounts
    into one file; see docs/operations.md."""
    from datetime import UTC, datetime

    from services.operations.backup.progress import RichSteps
    from services.operations.backup.run import backup as run_backup

    setup_logging("backup")
    try:
        dest, manifest = run_backup(
            Settings(), path, dynsec_file=dynsec_file, now=datetime.now(UTC), ui=RichSteps()
        )
    except CareWatchError as exc:
        raise fail(exc) from None
    rows = sum(manifest.database.tables.values())
    typer.echo(f"backup written: {dest} ({rows} rows in {len(manifest.database.tables)} tables)")
    if not manifest.has_broker:
        typer.echo("note: no broker config included (give --dynsec-file for an external broker)")


def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `carewatch backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a target database that holds data.")
    ] = False,
    dynsec_file: DynsecOption = None,
) -> None:
    """Restore a backup into an empty database (stop every CareWatch service first)."""
    from services.operations.backup.progress import RichSteps
    from services.operations.backup.run import restore as run_restore

    setup_logging("restore")
    try:
        report = run_restore(Settings(), path, force=force, dynsec_file=dynsec_file, ui=RichSteps())
    except CareWatchError as exc:
        raise fail(exc) from None
    for note in report.notes:
        typer.echo(f"note: {note}")
    db = report.manifest.database
    typer.echo(
        f"restored the backup of {report.manifest.created_at}: {sum(db.tables.values())} rows "
        f"in {len(db.tables)} tables, schema at migration {db.migration_version}"
    )
    if report.migrations_applied:
        typer.echo(f"then applied migration(s) {', '.join(report.migrations_applied)}")
    if report.broker_file is not None:
        typer.echo(f"broker accounts restored to {report.broker_file} (start the broker now)")
