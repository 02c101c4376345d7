"""How a run shows its progress: a bar over simulated time when the end is known, else a
periodic log line."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import Final

from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

log = logging.getLogger("carewatch.sim")

LOG_EVERY_S: Final = 10.0  # real seconds, when there is no progress bar
PROGRESS_EVERY_S: Final = 0.1

Report = Callable[[float, datetime, int], None]


@contextmanager
def reporter(
    progress: bool, duration_s: float | None, n_devices: int, start: datetime, tz: tzinfo
) -> Iterator[Report]:
    """A progress bar over simulated time when the end is known, else a periodic log line."""
    if progress and duration_s is not None and duration_s > 0:
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[sim_time]}"),
            TextColumn("{task.fields[messages]} msgs"),
            TimeRemainingColumn(),
        )
        task = bar.add_task(
            f"{n_devices} devices",
            total=duration_s,
            sim_time=_clock_text(start, tz),
            messages=0,
        )
        shown = -math.inf
        last = (start, 0)

        def update(offset: float, t: datetime, messages: int) -> None:
            nonlocal shown, last
            last = (t, messages)
            now = time.monotonic()
            # Redrawing on every tick would cost more than the ticks at high speed.
            if now - shown >= PROGRESS_EVERY_S:
                shown = now
                bar.update(task, completed=offset, sim_time=_clock_text(t, tz), messages=messages)

        with bar:
            yield update
            t, messages = last
            bar.update(task, sim_time=_clock_text(t, tz), messages=messages)
            if not bar.finished:
                bar.update(task, completed=min(duration_s, (t - start).total_seconds()))
        return

    began = last_time = time.monotonic()
    last_messages = 0

    def log_rate(_offset: float, t: datetime, messages: int) -> None:
        nonlocal last_time, last_messages
        now = time.monotonic()
        if now - last_time >= LOG_EVERY_S:
            rate = (messages - last_messages) / (now - last_time)
            log.info(
                "sim: %d messages in %.0f s (%.0f/s now), simulated time %s",
                messages,
                now - began,
                rate,
                _clock_text(t, tz),
            )
            last_time, last_messages = now, messages

    yield log_rate


def _clock_text(t: datetime, tz: tzinfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
