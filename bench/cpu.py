"""CPU used per process over a window, and by the rest of the machine meanwhile (benchmarks on
a small shared machine compete with whatever else runs there)."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

BACKGROUND = "background (not this benchmark)"


@dataclass(frozen=True, slots=True)
class CpuSample:
    at: float  # time.monotonic()
    busy: int  # clock ticks all CPUs spent running processes (user, nice, system)
    interrupts: int  # irq + softirq: not charged to any process (loopback traffic included)
    steal: int  # ticks the hypervisor gave to someone else
    processes: dict[int, tuple[int, int]]  # pid → (parent pid, utime + stime)


def cpu_sample() -> CpuSample:
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
            int, f.readline().split()[1:9]
        )
    processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        fields = text[text.rindex(")") + 2 :].split()
        processes[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return CpuSample(time.monotonic(), user + nice + system, irq + softirq, steal, processes)


def cpu_cores(
    before: CpuSample, after: CpuSample, roles: dict[int, str], postmaster: int | None
) -> dict[str, float]:
    """Cores used per role over the window (the stack's PostgreSQL: its postmaster and
    backends), and what the rest of the machine used meanwhile: other sessions' work on a
    shared machine takes CPU from the services measured here."""
    seconds = after.at - before.at
    hz = os.sysconf("SC_CLK_TCK")
    used: Counter[str] = Counter()
    for pid, (ppid, ticks) in after.processes.items():
        role = roles.get(pid) or ("postgres" if postmaster in (pid, ppid) else None)
        if role is not None:
            used[role] += ticks - before.processes.get(pid, (ppid, 0))[1]
    cores = {role: t / hz / seconds for role, t in used.most_common()}
    machine_busy = (after.busy - before.busy) / hz / seconds
    cores[BACKGROUND] = max(0.0, machine_busy - sum(cores.values()))
    cores["interrupts (any process)"] = (after.interrupts - before.interrupts) / hz / seconds
    cores["steal"] = (after.steal - before.steal) / hz / seconds
    return {role: round(c, 2) for role, c in cores.items()}
