"""`carewatch upgrade-state` (also `python -m upgrade`, as `carewatch up` runs it): found by
services/cli/plugins.py through the `carewatch.commands` entry point, so no service imports
it. Run before the detector and the alert service start (deploy/systemd, `carewatch up`)."""

from __future__ import annotations

import typer

upgrade_app = typer.Typer(add_completion=False)


@upgrade_app.command()
def upgrade_state() -> None:
    """Rewrite state pickled by earlier releases (detector snapshots, the alert book) as JSON,
    once; with nothing left to rewrite it does nothing. Uses CAREWATCH_DATABASE_URL (the
    owner's) or the local database."""
    import psycopg

    from services.cli.common import fail, setup_logging
    from services.errors import CareWatchError
    from services.settings import Settings, database_url
    from upgrade.state import UpgradeRefused, upgrade_state

    setup_logging("upgrade-state")
    try:
        with psycopg.connect(database_url(Settings()), autocommit=True) as conn:
            done = upgrade_state(conn)
    except (CareWatchError, UpgradeRefused) as exc:
        raise fail(exc) from None
    typer.echo(
        f"rewrote {done.snapshots} detector snapshot(s) and {int(done.book)} alert book as JSON"
    )
