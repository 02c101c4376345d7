"""`carewatch eval`: the labelled scenario library replayed through the rules."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.common import fail

eval_app = typer.Typer(add_completion=False)


@eval_app.command("eval")
def eval_(
    split: Annotated[
        str | None, typer.Option(help="Only this split: tune or heldout (default: both).")
    ] = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", "-s", help="Only these scenarios (by name).")
    ] = None,
    details: Annotated[
        bool, typer.Option("--details/--no-details", help="List misses and false alerts.")
    ] = True,
) -> None:
    """Replay the labelled scenario library through the rules; print detection quality."""
    from device_sim.evaluation.report import eval_command

    if split not in (None, "tune", "heldout"):
        raise fail(ValueError(f"--split must be tune or heldout, got {split!r}"))
    eval_command(split=split, scenarios=scenario or (), details=details)
