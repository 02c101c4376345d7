"""The detector process upgraded over state pickled by the previous release: it refuses to
start on it, naming `carewatch upgrade-state`; that command (as `carewatch up` runs it) rewrites
the snapshot as JSON, and the rules carry on from it (the fall's long-lie clock kept running)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.operations.local.env import service_env
from services.operations.local.supervisor import upgrade_argv
from tests.conftest import ServiceProcess
from tests.support import Conn, candidates, new_resident, wait_for

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy_state" / "resident_7.pickle"


def test_a_pickled_snapshot_is_refused_then_upgraded_and_its_fall_pages_the_long_lie(
    db: Conn,
    detector: ServiceProcess,
    ward: str,  # the test site and unit the resident lives in
) -> None:
    resident = new_resident(db)
    subject = f"resident:{resident}"
    # As the previous release left it: a fall paged at 18:01:10 on 5 March, long-lie pending.
    db.execute(
        "INSERT INTO detector_snapshots (subject, version, state, taken_at)"
        " VALUES (%s, 1, %s, now())",
        [subject, LEGACY.read_bytes()],
    )
    detector.kill()
    try:
        detector.child.start()  # the upgraded detector, before the upgrade step
        assert detector.child.proc is not None
        assert detector.child.proc.wait(timeout=60) == 1  # refused: a one-line error
        assert "run `carewatch upgrade-state`" in detector.child.log_tail()
        row = db.execute(
            "SELECT version, state IS NOT NULL FROM detector_snapshots WHERE subject = %s",
            [subject],
        ).fetchone()
        assert row == (1, True)  # neither read nor overwritten
        done = subprocess.run(
            upgrade_argv(),
            env=service_env(detector.settings),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "rewrote 1 detector snapshot(s)" in done.stdout
    finally:
        detector.start()  # the session's detector, running again for the tests after this
    wait_for(
        lambda: db.execute(
            "SELECT version, state IS NULL, doc IS NOT NULL FROM detector_snapshots"
            " WHERE subject = %s",
            [subject],
        ).fetchone(),
        until=lambda row: row == (2, True, True),
        timeout=30,
        what="the snapshot as JSON",
    )
    # Long past the fall's long-lie limit: the first tick pages it, from the restored state.
    wait_for(
        lambda: candidates(db, resident),
        until=lambda c: ("fall.long_lie", "update") in c,
        timeout=30,
        what="the long-lie page of the fall from before the upgrade",
    )
