"""`carewatch up` (everything locally, in the foreground) and `carewatch migrate`."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.common import fail, setup_logging
from services.errors import CareWatchError
from services.settings import Settings


def up(
    no_sim: Annotated[bool, typer.Option("--no-sim", help="Do not start the simulator.")] = False,
    residents: Annotated[int, typer.Option(min=1, max=500, help="Demo residents.")] = 8,
    rate: Annotated[float, typer.Option(min=0.01, max=50.0, help="Vitals per second each.")] = 1.0,
    history_days: Annotated[
        float,
        typer.Option(min=0.0, max=30.0, help="Days of demo history on a fresh data dir (0: none)."),
    ] = 7.0,
) -> None:
    """Run everything locally in the foreground (data under CAREWATCH_DATA_DIR)."""
    from services.operations.local.supervisor import run_up

    setup_logging("up")
    try:
        run_up(
            Settings(), sim=not no_sim, residents=residents, rate=rate, history_days=history_days
        )
    except CareWatchError as exc:
        raise fail(exc) from None


def migrate() -> None:
    """Apply pending database migrations (to CAREWATCH_DATABASE_URL or the local database)."""
    import psycopg

    from services.db.migrate import apply_migrations
    from services.settings import database_url

    setup_logging("migrate")
    try:
        with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
            applied = apply_migrations(conn)
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"applied {len(applied)} migration(s)")
