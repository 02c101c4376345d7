"""CareWatch services as child processes run the way production runs them: systemd's
`Restart=always`, `RestartSec=2` (deploy/systemd), here a supervisor thread. A test that kills
a service holds it down until it restarts it itself; any other exit is a crash, counted."""

from __future__ import annotations

import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from services.operations.local.process import ChildProcess

RESTART_S = 2.0  # deploy/systemd/*.service: RestartSec=2


def scrape(port: int) -> dict[str, float]:
    """A service's Prometheus samples by name, labelled ones summed (a counter's total);
    {} when it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return {}
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name] = samples.get(sample.name, 0.0) + float(sample.value)
    return samples


class Service:
    """One `carewatch <command>` child with its readiness signal."""

    def __init__(
        self,
        name: str,
        *,
        env: dict[str, str],
        log_dir: Path,
        ready: Callable[[], bool],
    ) -> None:
        self.name = name
        self.ready = ready
        self.child = ChildProcess(
            name,
            [sys.executable, "-m", "services.cli", name],
            log_path=log_dir / f"{name}.log",
            env=env,
            stop_signal=signal.SIGINT,
        )
        self.crashes: list[str] = []  # exits nobody asked for
        self.held = True  # not supervised until started
        self._lock = threading.Lock()
        self._down_since: float | None = None

    def start(self, timeout: float = 90.0) -> None:
        """Start (if not running) and wait until ready; supervised from then on."""
        with self._lock:
            if not self.child.alive():
                self.child.start()
            self.held = False
            self._down_since = None
        self.child.wait_until(self.ready, timeout=timeout, what="ready")

    def kill(self) -> None:
        """SIGKILL, as a crash would; held down until `start()`."""
        with self._lock:
            self.held = True
            self.child.kill()

    def stop(self) -> None:
        with self._lock:
            self.held = True
            self.child.stop(timeout=30)

    def healthy(self) -> bool:
        return self.child.alive() and self.ready()

    def supervise(self, now: float) -> None:
        """One look, as systemd would: a dead unheld service is noted and restarted after
        RESTART_S."""
        with self._lock:
            if self.held or self.child.alive():
                self._down_since = None
                return
            if self._down_since is None:
                self._down_since = now
                code = self.child.proc.returncode if self.child.proc is not None else None
                tail = self.child.log_tail(3)  # the exception's last lines say why
                self.crashes.append(f"exit {code} at {time.strftime('%H:%M:%S')}:\n{tail}")
            elif now - self._down_since >= RESTART_S:
                self.child.start()
                self._down_since = None


class Supervisor:
    def __init__(self, services: list[Service]) -> None:
        self.services = services
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for service in self.services:
                service.supervise(time.monotonic())
