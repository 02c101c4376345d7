"""bench/cpu.py on this machine's /proc: a role's reaped children count as the role's, and the
busiest processes outside the benchmark are named."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.cpu import busiest_others, cpu_cores, cpu_sample, ticks_used

# Burns this much CPU time (not wall time: a loaded machine only makes it take longer).
BURN = "import time\nwhile time.process_time() < {s}: pass\n"


def test_a_child_that_ended_in_the_window_counts_as_its_parents_role() -> None:
    before = cpu_sample()
    subprocess.run([sys.executable, "-c", BURN.format(s=0.3)], check=True, timeout=120)
    after = cpu_sample()
    me = os.getpid()
    ticks = ticks_used(before, me, after.processes[me])
    assert ticks / os.sysconf("SC_CLK_TCK") >= 0.25
    cores = cpu_cores(before, after, {me: "bench"}, None)
    assert cores["bench"] > 0


def test_the_busiest_other_processes_are_named() -> None:
    burner = subprocess.Popen([sys.executable, "-c", BURN.format(s=600)])
    try:
        before = cpu_sample()
        # Until it has run a little in the window: its CPU time, not a sleep, says when.
        deadline = time.monotonic() + 60
        while True:
            now = cpu_sample()
            if ticks_used(before, burner.pid, now.processes[burner.pid]) >= 10:
                break
            assert time.monotonic() < deadline, "the burner did not run"
        named = busiest_others(before, now, {os.getpid(): "bench"}, None, top=len(now.processes))
    finally:
        burner.kill()
        burner.wait(timeout=30)
    assert f"({burner.pid})" in named
    assert f"({os.getpid()})" not in named
