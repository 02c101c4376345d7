"""The load test's pure parts: the ramp's steps, who is streaming and who falls when, and the
verdict of each step (no I/O, no clock: times are parameters)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.common import quantile
from device_sim.devices import SimDevice

SITE = "bench"
# The longest a publish may trail its slot before the stream no longer counts as 1 Hz.
MAX_LAG_S = 0.5
# Share of a step's publishes allowed to trail by more than MAX_LAG_S (i.e. p99 lag < 0.5 s).
MAX_LATE_RATIO = 0.01
STATUS_EVERY_S = 60
ALERT_P99_LIMIT_MS = 1000.0
# Other work on the machine beyond this, on average over a step, makes the step not
# representative (2 cores: every process competes for them).
MAX_BACKGROUND_CORES = 0.25
GOLDEN = 0.6180339887498949
STREAMS = ("vitals", "bed", "status", "event")


def site_names(count: int) -> list[str]:
    """The sites the bench ward is spread over, one detector partition each: `bench` alone, or
    `bench-1` … `bench-N`."""
    if count < 1:
        raise ValueError(f"sites must be at least 1, got {count}")
    return [SITE] if count == 1 else [f"{SITE}-{n}" for n in range(1, count + 1)]


def site_of(index: int, sites: Sequence[str]) -> str:
    """Residents take the sites in turn, so every step grows each site alike."""
    return sites[index % len(sites)]


@dataclass(frozen=True, slots=True)
class Step:
    number: int  # 1-based
    residents: int  # streaming during this step, cumulative
    new: range  # resident indices that join at this step


@dataclass(frozen=True, slots=True)
class LoadDevice:
    index: int  # the resident's index (0-based)
    device: SimDevice
    phase: float  # [0, 1): where in each second its message goes


def make_steps(sizes: Sequence[int]) -> list[Step]:
    if not sizes:
        raise ValueError("at least one step")
    if any(s <= 0 for s in sizes) or any(b <= a for a, b in itertools.pairwise(sizes)):
        raise ValueError(f"step sizes must be positive and increasing, got {list(sizes)}")
    previous = 0
    steps = []
    for number, size in enumerate(sizes, start=1):
        steps.append(Step(number, size, range(previous, size)))
        previous = size
    return steps


def parse_steps(text: str) -> list[Step]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--steps wants comma-separated integers, got {text!r}") from None
    return make_steps(sizes)


def device_ids(index: int) -> tuple[str, str]:
    """A resident's wearable and bed sensor."""
    return f"load-w{index:05d}", f"load-b{index:05d}"


def phase(ordinal: int) -> float:
    """Slot of the n-th device within each second: the golden-ratio sequence spreads any
    prefix of devices evenly, so each step's load stays smooth as devices join."""
    return (ordinal * GOLDEN) % 1.0


def publishers_for(devices: int, per_process: int) -> int:
    return max(1, -(-devices // per_process))


def pick_fallers(step: Step, count: int, used: Iterable[int], seed: int) -> list[int]:
    """Distinct residents streaming in this step that have not fallen before (an open alert
    would fold a second fall into it and page nobody)."""
    taken = set(used)
    pool = [i for i in range(step.residents) if i not in taken]
    if count > len(pool):
        raise ValueError(f"step {step.number}: {count} falls but {len(pool)} residents left")
    return random.Random(seed * 1000 + step.number).sample(pool, count)


def fall_offsets(count: int, window_s: float, tail_s: float) -> list[float]:
    """Seconds into the measuring window, evenly spread, the last `tail_s` before its end so
    its page can arrive inside the window."""
    span = max(0.0, window_s - tail_s)
    return [span * (j + 0.5) / count for j in range(count)] if count else []


# --- counting ----------------------------------------------------------------------------------


def in_window(counts: Mapping[tuple[str, int], int], stream: str, start: int, end: int) -> int:
    """Messages of `stream` whose `ts` second lies in [start, end)."""
    return sum(n for (s, second), n in counts.items() if s == stream and start <= second < end)


def lost_messages(acked: Mapping[str, int], stored: Mapping[str, int]) -> dict[str, int]:
    """Per stream, acknowledged by the broker but not stored. Negative never: a duplicate is
    stored once by the unique keys; more stored than acknowledged is reported apart."""
    return {s: max(0, acked.get(s, 0) - stored.get(s, 0)) for s in sorted(acked.keys() | stored)}


def excess_messages(acked: Mapping[str, int], stored: Mapping[str, int]) -> int:
    return sum(max(0, stored.get(s, 0) - acked.get(s, 0)) for s in stored)


# --- verdict -----------------------------------------------------------------------------------


@dataclass
class StepVerdict:
    residents: int
    alert_p99_ms: float | None
    lost_readings: int
    lost_alerts: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.lost_readings == 0
            and self.lost_alerts == 0
            and self.alert_p99_ms is not None
            and self.alert_p99_ms < ALERT_P99_LIMIT_MS
        )

    def reasons(self) -> list[str]:
        """Why the step does not count as handled (empty when it does)."""
        out = list(self.problems)
        if self.alert_p99_ms is None:
            out.append("no alert latency measured")
        elif self.alert_p99_ms >= ALERT_P99_LIMIT_MS:
            out.append(f"alert p99 {self.alert_p99_ms:,.0f} ms ≥ {ALERT_P99_LIMIT_MS:,.0f} ms")
        if self.lost_readings:
            out.append(f"{self.lost_readings} acknowledged messages not stored")
        if self.lost_alerts:
            out.append(f"{self.lost_alerts} falls never paged")
        return out


def max_residents_ok(verdicts: Sequence[StepVerdict]) -> int | None:
    """The largest step that passed with every smaller step passing too: a size that only
    passes after a smaller one failed is luck, not capacity."""
    best = None
    for v in verdicts:
        if not v.ok:
            break
        best = v.residents
    return best


def step_problems(
    *,
    late: int,
    on_time: int,
    lag_max_s: float,
    background_cores: float,
    background_processes: str,
    dead: Sequence[str],
    excess: int,
) -> list[str]:
    """Every reason a step's figures cannot be trusted, from what the publishers and the
    machine did during its measuring window."""
    problems = [f"{name} died" for name in dead]
    total = late + on_time
    if total == 0:
        problems.append("nothing was published in the measuring window")
    elif late / total > MAX_LATE_RATIO:
        problems.append(
            f"publishers could not keep the 1 Hz schedule: {late / total:.1%} of publishes "
            f"more than {MAX_LAG_S:g} s late (max {lag_max_s:.1f} s)"
        )
    if background_cores > MAX_BACKGROUND_CORES:
        problems.append(
            f"the machine was busy with other work ({background_cores:.2f} cores on average "
            f"outside this benchmark; busiest: {background_processes}): not representative; "
            "run it on a quiet machine"
        )
    if excess:
        problems.append(f"{excess} more messages stored than acknowledged")
    return problems


def window_quantile(
    before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]], q: float
) -> float | None:
    """The q-quantile of what a histogram observed between two scrapes (bucket-interpolated,
    as Prometheus' histogram_quantile); None if it observed nothing."""
    earlier = dict(before)
    delta = [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]
    if not delta or delta[-1][1] <= 0:
        return None
    return quantile(delta, q)
