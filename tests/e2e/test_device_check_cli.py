"""`carewatch device check` as an operator runs it: a child process watching the real broker
while a device publishes one good and one bad message."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from services.operations.local.env import service_env
from services.settings import SECRETS_FILE, Settings
from tests.support import Device

DURATION_S = 5  # long enough to publish two messages once the checker says it is watching


class Output:
    """A child's output, line by line, read in a thread so waiting on it has a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} within {timeout}s: {self.lines}") from None
            if line is None:
                raise AssertionError(f"output ended without {text!r}: {self.lines}")
            self.lines.append(line)
            if text in line:
                return line

    def rest(self, timeout: float) -> list[str]:
        """Every line up to the end of the output."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"output not ended within {timeout}s: {self.lines}") from None
            if line is None:
                return self.lines
            self.lines.append(line)


@pytest.fixture
def check(settings: Settings) -> Iterator[Callable[..., tuple[subprocess.Popen[str], Output]]]:
    started: list[tuple[subprocess.Popen[str], Output]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], Output]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "device", "check", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=service_env(settings),
            text=True,
        )
        output = Output(proc)
        started.append((proc, output))
        return proc, output

    yield start
    for proc, output in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        output.reader.join(timeout=10)  # it has read to the end: the pipe can be closed
        assert proc.stdout is not None
        proc.stdout.close()


def test_check_judges_each_message_live_and_fails_on_a_reject(
    settings: Settings,
    make_device: Callable[..., Device],
    check: Callable[..., tuple[subprocess.Popen[str], Output]],
) -> None:
    device = make_device()
    proc, output = check("--device", device.device_id, "--duration", str(DURATION_S))
    output.wait_for("watching", timeout=30)  # subscribed: from here on nothing is missed

    topic = f"carewatch/v1/t1/{device.device_id}/vitals"
    now_ms = time.time_ns() // 1_000_000
    device.publish(topic, {"ts": now_ms, "seq": 1, "hr": 72})
    device.publish(topic, {"ts": now_ms + 1, "seq": 2, "hr": 300})

    accepted = output.wait_for("vitals    accepted", timeout=DURATION_S)
    rejected = output.wait_for("REJECTED", timeout=DURATION_S)
    assert "seq=1" in accepted and "skew=" in accepted
    assert "REJECTED out_of_range: hr=300.0 not in [20, 250]" in rejected
    assert '"hr": 300' in rejected  # the payload, shown

    lines = output.rest(timeout=DURATION_S + 30)
    assert proc.wait(timeout=10) == 1
    text = "\n".join(lines)
    assert "2 message(s), 1 accepted, 1 rejected" in text
    assert "rejected out_of_range: 1" in text
    assert "expected streams never seen: status" in text  # a wearable should send status
    assert lines[-1] == "result: FAIL: 1 message(s) would be rejected"

    secrets = json.loads((Path(settings.data_dir) / SECRETS_FILE).read_text())
    assert not [name for name, value in secrets.items() if value in text]


def test_check_of_an_unknown_device_says_so(
    check: Callable[..., tuple[subprocess.Popen[str], Output]],
) -> None:
    proc, output = check("--device", "never-provisioned", "--duration", "0.2")
    output.wait_for("is not provisioned", timeout=30)
    lines = output.rest(timeout=30)
    assert proc.wait(timeout=10) == 1  # nothing to judge, and all it sent would be rejected
    assert "no message at all" in "\n".join(lines)
    assert lines[-1].startswith("result: FAIL: never-provisioned is not provisioned")
