"""The restart policy of `carewatch up`, with a fake child and a fake clock."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from services.operations.local.process import ChildProcess
from services.operations.local.supervisor import Supervised, keep_alive
from services.settings import Settings
from tests.support import Conn


class DeadChild(ChildProcess):
    def __init__(self) -> None:
        super().__init__("svc", ["true"], log_path=Path("/nonexistent/svc.log"))
        self.starts = 0

    def alive(self) -> bool:
        return False

    def start(self) -> None:
        self.starts += 1


@pytest.mark.parametrize(
    ("ran_s", "restarts_before", "expected_wait"),
    [(5.0, 0, 1.0), (5.0, 3, 8.0), (5.0, 10, 30.0), (120.0, 10, 1.0)],
    ids=["first-crash", "fourth-in-a-row", "capped", "after-a-healthy-run"],
)
def test_backoff(
    monkeypatch: pytest.MonkeyPatch, ran_s: float, restarts_before: int, expected_wait: float
) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])  # what the supervisor reads
    child = DeadChild()
    s = Supervised(child, restarts=restarts_before, started_at=now[0] - ran_s)
    keep_alive(s)  # notices the exit and schedules the restart
    assert s.next_start == pytest.approx(now[0] + expected_wait)
    now[0] += expected_wait - 0.01
    keep_alive(s)
    assert child.starts == 0
    now[0] += 0.02
    keep_alive(s)
    assert child.starts == 1 and s.started_at == now[0]


def test_up_turns_the_demo_pager_on_only_for_its_own_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import SecretStr

    from services.operations.local.supervisor import up_env
    from services.settings import Settings

    monkeypatch.setenv("CAREWATCH_DEMO_PAGER", "1")  # even if the caller's environment asks
    local = Settings(data_dir=tmp_path)
    assert up_env(local)["CAREWATCH_DEMO_PAGER"] == "1"
    external = Settings(data_dir=tmp_path, database_url=SecretStr("postgresql://u:p@db/x"))
    assert "CAREWATCH_DEMO_PAGER" not in up_env(external)


def test_up_runs_the_simulator_by_its_command_line_and_stops_it_as_the_others(
    tmp_path: Path,
) -> None:
    """The command line `carewatch up` supervises for the simulator (its own program, which
    the supervisor never imports) runs it with up's options, and SIGINT, how the supervisor
    stops every child, ends it cleanly with its summary. A dry run (--out): no broker."""
    import json
    import signal

    from services.operations.local.supervisor import sim_argv

    out = tmp_path / "ward.jsonl"
    start = "2025-03-04T07:00:00+08:00"
    argv = [*sim_argv(residents=2, rate=5.0), "--duration", "864000", "--out", str(out)]
    child = ChildProcess(
        "sim", [*argv, "--start", start], log_path=tmp_path / "sim.log", stop_signal=signal.SIGINT
    )
    child.start()
    try:
        child.wait_until(
            lambda: out.exists() and out.stat().st_size > 0, timeout=60, what="writing its ward"
        )
    finally:
        code = child.stop(timeout=30)
    assert code == 0, child.log_tail()
    assert "wrote to" in child.log_tail()
    devices = {json.loads(line)["device"] for line in out.read_text().splitlines()}
    assert devices == {"demo-w000", "demo-w001", "demo-b000", "demo-b001"}


def test_up_runs_the_state_upgrade_by_its_command_line_and_stops_when_it_fails(
    settings: Settings, db: Conn
) -> None:
    """`carewatch up` rewrites old state before the services start (by the command line, so
    it never imports the upgrade): nothing to do succeeds; a row it cannot read stops up."""
    from services.errors import ServiceError
    from services.operations.local.env import service_env
    from services.operations.local.supervisor import upgrade_state

    env = service_env(settings)
    upgrade_state(env)  # nothing to do
    subject = f"cursor:manual:junk-{uuid.uuid4().hex[:8]}"
    db.execute(
        "INSERT INTO detector_snapshots (subject, version, state, taken_at)"
        " VALUES (%s, 1, %s, now())",
        [subject, b"junk"],
    )
    try:
        with pytest.raises(ServiceError, match="upgrade-state` failed"):
            upgrade_state(env)
    finally:
        db.execute("DELETE FROM detector_snapshots WHERE subject = %s", [subject])
