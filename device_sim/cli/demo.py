"""`carewatch demo event`: something happens to a resident of the running demo ward."""

from __future__ import annotations

from typing import Annotated

import typer

from services.settings import Settings

demo_app = typer.Typer(
    help="The demo ward of `carewatch up`.", no_args_is_help=True, add_completion=False
)


@demo_app.callback()
def demo() -> None:
    """The demo ward of `carewatch up`."""  # a callback keeps `demo` a group of one command


@demo_app.command("event")
def demo_event(
    kind: Annotated[
        str,
        typer.Argument(
            help="fall, sos, hypoxia, fever, bed-exit, news2-deterioration or device-offline."
        ),
    ],
    resident: Annotated[
        str | None,
        typer.Option(help="The resident's id (as on the board; default: the first)."),
    ] = None,
) -> None:
    """Make something happen to a resident of the running demo ward (`carewatch up`): their
    devices send it, and the rules page as they would for the real thing. Exits 2 when the
    event, the resident or a running demo is not there."""
    from device_sim.cli.demo_ward import control_path
    from device_sim.control import ControlUnavailable, send_event
    from device_sim.demo_events import KINDS, DemoEventError, script_for

    def refuse(message: str) -> typer.Exit:
        typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
        return typer.Exit(code=2)

    try:
        script_for(kind)
    except DemoEventError as exc:
        raise refuse(str(exc)) from None
    path = control_path(Settings())
    try:
        reply = send_event(path, kind, resident)
    except ControlUnavailable:
        raise refuse(
            f"no demo simulator is running for {path.parent}: start `carewatch up` (or "
            "`carewatch sim` on the demo ward) first"
        ) from None
    except (OSError, ValueError) as exc:
        raise refuse(f"the demo simulator did not answer: {exc}") from None
    if not reply.get("ok"):
        raise refuse(str(reply.get("error", "refused")))
    devices = ", ".join(reply.get("devices", []))
    who = str(reply["resident"]).removeprefix("r")
    typer.echo(f"{kind} sent to resident {who} ({devices}).")
    typer.echo(f"expect: {reply.get('expect', '')}")
    typer.echo(f"other kinds: {', '.join(k for k in KINDS if k != kind)}")


@demo_app.command("backfill")
def demo_backfill(
    residents: Annotated[
        int, typer.Option(min=1, help="Residents of the demo ward (as `carewatch up`).")
    ] = 8,
    days: Annotated[float, typer.Option(min=0.01, max=30, help="Days of history.")] = 7.0,
) -> None:
    """Write the demo ward's last days of simulated readings straight into the database
    (never through the broker, so nothing pages) and refresh the trends; skipped when the
    ward already has readings. `carewatch up` runs it on a fresh data dir."""
    import sys
    from datetime import UTC, datetime

    from device_sim.cli.backfill import backfill
    from services.cli.common import fail, setup_logging
    from services.errors import CareWatchError

    setup_logging("sim")
    try:
        done = backfill(
            Settings(),
            residents=residents,
            days=days,
            now=datetime.now(UTC),
            progress=sys.stderr.isatty(),
        )
    except (CareWatchError, OSError, ValueError) as exc:
        raise fail(exc) from None
    if done is None:
        typer.echo("demo history: the demo ward has readings already; nothing written.")
    else:
        typer.echo(
            f"demo history: {done.readings:,} readings over {days:g} days from "
            f"{done.devices} devices, written in {done.seconds:.0f} s (nothing paged)."
        )
