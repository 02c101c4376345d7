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
