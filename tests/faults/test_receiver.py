"""The caregiver's receiver down for 2 minutes while residents fall: the pages fail and are
retried with backoff (up to a minute apart), the incidents show as undelivered meanwhile, and
once the receiver is back each fall is paged exactly once
(what is counted: accounting.py)."""

from __future__ import annotations

import time

import pytest

from tests.faults.supervised import scrape
from tests.faults.ward import Ward
from tests.support import wait_for

pytestmark = pytest.mark.faults

OUTAGE_S = 120.0


@pytest.mark.timeout(480)
def test_receiver_down_for_2_minutes(fault_ward: Ward) -> None:
    ward = fault_ward
    window = ward.begin(f"the caregiver's receiver down for {OUTAGE_S:g} s")
    received_before = len(ward.receiver.items)
    ward.receiver.down()
    down = time.monotonic()
    window.note("receiver down: connections refused")
    ward.fall(window)
    undelivered = wait_for(
        lambda: scrape(ward.settings.alerts_metrics_port).get(
            "carewatch_alert_incidents_undelivered", 0.0
        ),
        until=lambda n: n >= 1,
        timeout=30,
        what="the alert service to report the incident undelivered",
        every=0.5,
    )
    window.note(f"alert service reports {undelivered:g} incident(s) undelivered")
    ward.stream_for(OUTAGE_S / 2 - (time.monotonic() - down))
    ward.fall(window)
    ward.stream_for(OUTAGE_S - (time.monotonic() - down))
    got = len(ward.receiver.items) - received_before
    ward.receiver.up()
    window.note(f"receiver up again after {time.monotonic() - down:.1f} s ({got} received)")
    # Backoff is capped at a minute: the last failed page may wait that long.
    report = ward.settle(window, deliver_within=90)
    print(report.text())
    assert got == 0, report.text()
    assert not report.problems, report.text()
