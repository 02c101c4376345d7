"""Commands another package adds to `carewatch`, such as the simulator's `sim`, `eval` and
`demo`: declared as entry points of the group `carewatch.commands` (pyproject.toml), each
naming a Typer app, and imported only when that command is run or listed in the help. So
`carewatch up` and the services never load them, and nothing here names them."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

GROUP = "carewatch.commands"


def plugin_entry_points() -> dict[str, EntryPoint]:
    """The declared commands by name (a package found twice on the path: its first copy)."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=GROUP):
        found.setdefault(entry.name, entry)
    return found


def load_command(entry: EntryPoint) -> Any:
    """The click command of an entry point naming a Typer app (a group, or one command)."""
    try:
        target = entry.load()
    except ImportError as exc:
        raise typer.BadParameter(
            f"`carewatch {entry.name}` comes from {entry.value}, which cannot be imported: {exc}"
        ) from None
    if not isinstance(target, typer.Typer):
        raise TypeError(f"entry point {entry.name} = {entry.value} is not a Typer app")
    command = typer.main.get_command(target)
    command.name = entry.name
    return command


class PluginGroup(TyperGroup):
    """The `carewatch` group: its own commands, then those of the entry points, loaded on
    first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        own = super().list_commands(ctx)
        return own + sorted(set(plugin_entry_points()) - set(own))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            entry = plugin_entry_points().get(cmd_name)
            if entry is not None:
                command = load_command(entry)
                self.commands[cmd_name] = command
        return command
