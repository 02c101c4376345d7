"""What the benchmarks share: a scratch stack, the worker as a process, metric scraping."""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from services.operations.local.env import service_env
from services.operations.local.process import ChildProcess
from services.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


class Worker:
    """`carewatch ingest` as a child process, with its metrics endpoint."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.child = ChildProcess(
            "ingest",
            [sys.executable, "-m", "services.cli", "ingest"],
            log_path=Path(settings.data_dir) / "log" / "ingest-bench.log",
            env=service_env(settings),
            stop_signal=signal.SIGINT,
        )

    def start(self) -> None:
        self.child.start()
        self.child.wait_until(
            lambda: self.sample("carewatch_ingest_subscribed") == 1.0,
            timeout=60,
            what="subscribed",
        )

    def stop(self) -> None:
        self.child.stop(timeout=60)

    def metrics_text(self) -> str:
        url = f"http://127.0.0.1:{self.settings.ingest_metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            return ""

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        out = {}
        for family in text_string_to_metric_families(self.metrics_text()):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
        return out

    def sample(self, name: str, **labels: str) -> float:
        return self.samples().get((name, tuple(sorted(labels.items()))), 0.0)

    def peak_rss_mb(self) -> float:
        """The kernel's high-water mark of the worker's resident memory (VmHWM)."""
        status = Path(f"/proc/{self.child.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")


def histogram_buckets(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str
) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) pairs of a histogram, sorted by bound."""
    buckets = []
    for (sample_name, labels), value in samples.items():
        if sample_name == f"{name}_bucket":
            bound = dict(labels)["le"]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), value))
    return sorted(buckets)


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding q."""
    total = buckets[-1][1]
    if total <= 0:
        return float("nan")
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= rank:
            if bound == float("inf"):
                return lower_bound
            width = cumulative - lower_count
            share = (rank - lower_count) / width if width else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, cumulative
    return buckets[-1][0]


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit or None,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def finish(
    name: str,
    results: dict[str, Any],
    settings: Settings,
    *,
    keep: bool,
    show: Callable[[dict[str, Any]], None],
    say: Callable[[str], None],
) -> int:
    """Write and show a benchmark's results; keep its scratch data when asked or when the
    figures are in doubt (its logs say why), else remove it. The exit code: 1 with problems."""
    path = write_results(name, results)
    show(results)
    say(f"results: {path}")
    problems = results["problems"]
    if keep or problems:
        say(f"scratch data (logs under log/): {settings.data_dir}")
    else:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
    for problem in problems:
        say(f"[red]problem:[/] {problem}")
    return 1 if problems else 0


# The benches read pages by resident name: their care teams ask for the full form, which names
# a resident only with their consent to third-party messaging (one row each, `%s`: the ids).
MESSAGING_CONSENT_SQL = (
    "INSERT INTO resident_consents (resident_id, kind, granted, recorded_by)"
    " SELECT unnest(%s::bigint[]), 'third_party_messaging', true, 'bench'"
)
