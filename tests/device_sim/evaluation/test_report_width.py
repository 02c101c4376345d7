"""`carewatch eval` piped (into a file, `less`, CI's log) prints its tables whole: rich
assumes 80 columns without a terminal, which cut every cell to "…"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CAREWATCH = Path(sys.executable).with_name("carewatch")
HEADERS = ("family", "sensitivity", "precision", "false/res-day", "negatives alerted")


def test_eval_into_a_pipe_keeps_the_whole_table() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    result = subprocess.run(
        [str(CAREWATCH), "eval", "--split", "tune", "--scenario", "tune-devices"],
        capture_output=True,  # stdout is a pipe, not a terminal
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "…" not in out, out
    header = next(line for line in out.splitlines() if "family" in line)
    assert all(name in header for name in HEADERS), out  # one line, no name wrapped
    assert "latency p50 s" in header and "latency p95 s" in header
    assert any("100.0%" in line and "overall" in line for line in out.splitlines()), out
