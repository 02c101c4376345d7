"""Each service SIGKILLed (a crash) while the devices stream, a fall published while it is
down, restarted as systemd would, and a second fall after: every reading stored once, every
fall paged once, nothing sent twice, every service healthy again
(what is counted: accounting.py)."""

from __future__ import annotations

import pytest

from tests.faults.ward import Ward

pytestmark = pytest.mark.faults

DOWN_S = 5.0  # the killed service stays down this long while the devices go on


@pytest.mark.parametrize("name", ["ingest", "detect", "alerts", "api"])
def test_sigkill_and_restart(fault_ward: Ward, name: str) -> None:
    ward = fault_ward
    window = ward.begin(f"SIGKILL {name}, {DOWN_S:g} s down, restart")
    service = ward.services[name]
    pid = service.child.pid
    service.kill()
    window.note(f"SIGKILLed {name} (pid {pid}) mid-stream")
    ward.fall(window)
    ward.stream_for(DOWN_S)
    service.start()
    window.note(f"{name} restarted (pid {service.child.pid}) and ready")
    ward.fall(window)
    report = ward.settle(window)
    print(report.text())
    assert not report.problems, report.text()
