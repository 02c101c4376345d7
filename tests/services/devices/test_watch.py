"""The checker's loop with a fake message source and a fake clock: it runs for the duration,
prints a line per message, and Ctrl-C still ends in a summary."""

from __future__ import annotations

from datetime import UTC, datetime

from services.devices.check import Observed, Target
from services.devices.watch import watch

T0 = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
TARGET = Target("w1", "s1", frozenset({"vitals"}))
GOOD = Observed("carewatch/v1/s1/w1/vitals", b'{"ts": 1714552200000, "hr": 70}', T0)
BAD = Observed("carewatch/v1/s1/w1/vitals", b'{"ts": 1714552200000, "hr": 7}', T0)


class FakeSource:
    """Hands out its items one per call; when empty, lets the asked timeout pass on the clock."""

    def __init__(self, items: list[Observed | KeyboardInterrupt]) -> None:
        self.items = items
        self.now = 0.0
        self.timeouts: list[float] = []

    def clock(self) -> float:
        return self.now

    def next(self, timeout: float) -> Observed | None:
        self.timeouts.append(timeout)
        if not self.items:
            self.now += timeout
            return None
        self.now += 0.01
        item = self.items.pop(0)
        if isinstance(item, KeyboardInterrupt):
            raise item
        return item


def test_runs_for_the_duration_and_judges_every_message() -> None:
    source = FakeSource([GOOD, BAD])
    lines: list[str] = []
    summary = watch(source, TARGET, duration_s=2.0, emit=lines.append, clock=source.clock)
    assert len(lines) == 2
    assert "vitals    accepted" in lines[0]
    assert "vitals    REJECTED out_of_range: hr=7.0 not in [20, 250]" in lines[1]
    assert summary.elapsed_s == 2.0
    assert (summary.messages, summary.rejected) == (2, 1)
    assert max(source.timeouts) <= 0.5  # waits are short, so the end is on time


def test_ctrl_c_ends_early_with_a_summary() -> None:
    source = FakeSource([GOOD, KeyboardInterrupt(), BAD])
    lines: list[str] = []
    summary = watch(source, TARGET, duration_s=None, emit=lines.append, clock=source.clock)
    assert len(lines) == 1
    assert (summary.messages, summary.rejected) == (1, 0)
    assert summary.exit_code() == 0
