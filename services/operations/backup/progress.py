"""How a backup or restore shows its steps: rich progress on standard error (standard output
stays for the result), one line per finished step when it is not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


class Steps(Protocol):
    def step(
        self, description: str, total: int | None = None
    ) -> AbstractContextManager[Callable[[str], None]]: ...

    def note(self, text: str) -> None: ...


class RichSteps:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)

    @contextmanager
    def step(self, description: str, total: int | None = None) -> Iterator[Callable[[str], None]]:
        """A step; the callable advances it by one item (and names the item)."""
        if not self.console.is_terminal:  # a log or a pipe: just the outcome
            yield lambda _item: None
            self.console.print(f"done: {description}", highlight=False)
            return
        columns = [
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[item]}"),
        ]
        with Progress(*columns, console=self.console, transient=True) as progress:
            task = progress.add_task(description, total=total, item="")

            def advance(item: str) -> None:
                progress.update(task, advance=1, item=item[:60])

            yield advance
        self.console.print(f"[green]✓[/] {description}")

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False)
