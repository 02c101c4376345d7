from __future__ import annotations

from rules.sos import sos_step
from rules.types import DeviceEvent
from tests.rules.conftest import local, profile


def test_sos_raises_critical_at_once() -> None:
    [alert] = sos_step(DeviceEvent(local(3), "w1", "sos"), profile=profile())
    assert (alert.rule_id, alert.action, alert.severity) == ("sos", "raise", "critical")
    assert alert.dedupe_key == "sos:resident:7" and alert.ts == local(3)


def test_other_events_are_not_sos() -> None:
    assert sos_step(DeviceEvent(local(3), "w1", "fall"), profile=profile()) == []
