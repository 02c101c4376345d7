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
class Proc:
    parent: int
    ticks: int  # utime + stime
    # cutime + cstime: its children that have ended and been waited for (a PostgreSQL backend
    # that closed, a command the bench ran): theirs, charged to the parent that reaped them.
    ended_children: int
    name: str


@dataclass(frozen=True, slots=True)
class CpuSample:
    at: float  # time.monotonic()
    busy: int  # clock ticks all CPUs spent running processes (user, nice, system)
    interrupts: int  # irq + softirq: not charged to any process (loopback traffic included)
    steal: int  # ticks the hypervisor gave to someone else
    processes: dict[int, Proc]


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
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        processes[int(stat.parent.name)] = Proc(
            int(fields[1]),
            int(fields[11]) + int(fields[12]),
            int(fields[13]) + int(fields[14]),
            name,
        )
    return CpuSample(time.monotonic(), user + nice + system, irq + softirq, steal, processes)


def ticks_used(before: CpuSample, pid: int, now: Proc) -> int:
    was = before.processes.get(pid)
    if was is None or was.name != now.name:  # started in the window (or a reused pid)
        return now.ticks + now.ended_children
    return now.ticks - was.ticks + now.ended_children - was.ended_children


def _role(pid: int, proc: Proc, roles: dict[int, str], postmaster: int | None) -> str | None:
    return roles.get(pid) or ("postgres" if postmaster in (pid, proc.parent) else None)


def cpu_cores(
    before: CpuSample, after: CpuSample, roles: dict[int, str], postmaster: int | None
) -> dict[str, float]:
    """Cores used per role over the window (the stack's PostgreSQL: its postmaster and
    backends), and what the rest of the machine used meanwhile: other sessions' work on a
    shared machine takes CPU from the services measured here. A role's processes count with
    the children they started and reaped in the window."""
    seconds = after.at - before.at
    hz = os.sysconf("SC_CLK_TCK")
    used: Counter[str] = Counter()
    for pid, proc in after.processes.items():
        role = _role(pid, proc, roles, postmaster)
        if role is not None:
            used[role] += ticks_used(before, pid, proc)
    cores = {role: t / hz / seconds for role, t in used.most_common()}
    machine_busy = (after.busy - before.busy) / hz / seconds
    cores[BACKGROUND] = max(0.0, machine_busy - sum(cores.values()))
    cores["interrupts (any process)"] = (after.interrupts - before.interrupts) / hz / seconds
    cores["steal"] = (after.steal - before.steal) / hz / seconds
    return {role: round(c, 2) for role, c in cores.items()}


def busiest_others(
    before: CpuSample,
    after: CpuSample,
    roles: dict[int, str],
    postmaster: int | None,
    *,
    top: int = 3,
) -> str:
    """What the background was: the busiest processes outside the benchmark over the window
    ("name (pid) cores", the busiest first), so a refusal to report says who was busy."""
    seconds = after.at - before.at
    hz = os.sysconf("SC_CLK_TCK")
    others = [
        (ticks_used(before, pid, proc) / hz / seconds, pid, proc.name)
        for pid, proc in after.processes.items()
        if _role(pid, proc, roles, postmaster) is None
    ]
    busiest = sorted((o for o in others if o[0] >= 0.01), reverse=True)[:top]
    return ", ".join(f"{name} ({pid}) {cores:.2f}" for cores, pid, name in busiest) or "none seen"
