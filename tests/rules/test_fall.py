"""The fall rule's life cycle (cancel window, get-up, "I'm OK", long lie, device reports) on a
fake clock, fed device_sim's recordings."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from device_sim.motion import Placement, Recording
from rules.fall import FallRuleState, cancel_pending, fall_rule_step, fall_rule_tick
from rules.fall_config import FallConfig
from rules.types import AlertCandidate, DeviceEvent, Motion
from tests.rules.conftest import profile
from tests.rules.fall_streams import T0, motion, recording, windows

CONFIG = FallConfig()
RESIDENT = profile()
KEY = "fall:resident:7"


class Ward:
    """One resident's fall rule fed by a fake clock: `now` is the data time plus latency."""

    def __init__(self, config: FallConfig = CONFIG) -> None:
        self.config = config
        self.state = FallRuleState()
        self.alerts: list[AlertCandidate] = []

    def stream(self, rec: Recording, *, start: datetime = T0, device: str = "w1") -> None:
        for window in windows(rec, 2.0, start=start, device=device):
            end = window.ts + timedelta(seconds=len(window.ax) / window.hz)
            self.step(window, now=end + timedelta(milliseconds=300))

    def step(self, observation: Motion | DeviceEvent, *, now: datetime) -> None:
        self.state, out = fall_rule_step(
            self.state, observation, profile=RESIDENT, now=now, config=self.config
        )
        self.alerts += out

    def tick(self, now: datetime) -> None:
        self.state, out = fall_rule_tick(self.state, profile=RESIDENT, now=now, config=self.config)
        self.alerts += out

    def rules(self) -> list[tuple[str, str, str]]:
        return [(a.rule_id, a.action, a.severity) for a in self.alerts]


def impact(rec: Recording) -> datetime:
    assert rec.event_s is not None
    return T0 + timedelta(seconds=rec.event_s)


def lying(rec: Recording, seconds: float, *, ward: Ward) -> None:
    """More of how `rec` ends (lying still), `seconds` of it, continuing its stream."""
    tail = rec.samples[-round(2 * rec.hz) :]
    at = T0 + timedelta(seconds=rec.duration_s)
    for _ in range(int(seconds // 2)):
        ward.step(motion(tail, rec.hz, at), now=at + timedelta(seconds=2.3))
        at += timedelta(seconds=2)


def test_a_device_reported_fall_pages_at_once() -> None:
    ward = Ward()
    ward.step(DeviceEvent(T0, "w1", "fall", confidence=0.9), now=T0)
    [alert] = ward.alerts
    assert (alert.rule_id, alert.action, alert.severity) == ("fall.device", "raise", "high")
    assert alert.dedupe_key == KEY and alert.subject == "resident:7" and alert.ts == T0
    assert alert.values["confidence"] == 0.9


def test_own_detection_waits_out_the_cancel_window_then_pages_without_more_data() -> None:
    rec = recording("fall_backward_walking")
    ward = Ward()
    ward.stream(rec)
    assert ward.alerts == [] and ward.state.incident is not None  # pending
    ward.tick(impact(rec) + timedelta(seconds=29))
    assert ward.alerts == []
    ward.tick(impact(rec) + timedelta(seconds=30.5))  # the device has gone silent: still pages
    [alert] = ward.alerts
    assert (alert.rule_id, alert.action, alert.severity) == ("fall.motion", "raise", "high")
    assert abs((alert.ts - impact(rec)).total_seconds()) <= 1.5
    assert alert.dedupe_key == KEY and float(alert.values["peak_g"]) >= 2
    ward.tick(impact(rec) + timedelta(seconds=60))
    assert len(ward.alerts) == 1


def test_no_cancel_window_pages_as_soon_as_detected() -> None:
    ward = Ward(FallConfig(cancel_window_s=0))
    ward.stream(recording("fall_sideways"))
    assert ward.rules() == [("fall.motion", "raise", "high")]


@pytest.mark.parametrize("placement", ["waist", "wrist"])
def test_getting_up_within_the_cancel_window_cancels(placement: Placement) -> None:
    rec = recording("fall_then_gets_up", placement)
    assert rec.gets_up_s is not None and rec.event_s is not None
    assert rec.gets_up_s - rec.event_s < 25
    ward = Ward()
    ward.stream(rec)
    assert ward.state.incident is not None and ward.state.incident.closed
    ward.tick(impact(rec) + timedelta(seconds=31))
    ward.tick(impact(rec) + timedelta(seconds=301))
    assert ward.alerts == []


def test_im_ok_cancels_a_pending_fall_and_stops_the_long_lie() -> None:
    rec = recording("fall_forward")
    ward = Ward()
    ward.stream(rec)
    ward.state = cancel_pending(ward.state, impact(rec) + timedelta(seconds=10))
    ward.tick(impact(rec) + timedelta(seconds=31))
    ward.tick(impact(rec) + timedelta(seconds=301))
    assert ward.alerts == []
    nothing = FallRuleState()
    assert cancel_pending(nothing, T0) is nothing


def test_lying_still_escalates_to_a_long_lie() -> None:
    rec = recording("faint_collapse")
    ward = Ward()
    ward.stream(rec)
    lying(rec, 300, ward=ward)
    ward.tick(impact(rec) + timedelta(seconds=301))
    assert ward.rules() == [
        ("fall.motion", "raise", "high"),
        ("fall.long_lie", "update", "critical"),
    ]
    assert {a.dedupe_key for a in ward.alerts} == {KEY}
    assert ward.alerts[1].title == "Still down 5 min after a fall"
    # Unable to get up: the fall with suspected injury that offers a referral; the fall alone
    # does not.
    assert [a.suggestion for a in ward.alerts] == [None, "referral"]
    ward.tick(impact(rec) + timedelta(seconds=900))
    assert len(ward.alerts) == 2


def test_a_silent_device_still_escalates_a_raised_fall() -> None:
    ward = Ward()
    ward.step(DeviceEvent(T0, "w1", "fall"), now=T0)
    ward.tick(T0 + timedelta(seconds=299))
    ward.tick(T0 + timedelta(seconds=300))
    assert ward.rules() == [
        ("fall.device", "raise", "high"),
        ("fall.long_lie", "update", "critical"),
    ]
    assert "no motion data" in ward.alerts[1].title


def test_getting_up_after_the_page_reports_it_and_stops_the_long_lie() -> None:
    rec = recording("fall_then_gets_up")
    ward = Ward(FallConfig(cancel_window_s=0))
    ward.stream(rec)
    assert ward.rules() == [("fall.motion", "raise", "high"), ("fall.motion", "update", "high")]
    assert float(ward.alerts[1].values["recovered_after_s"]) > 0
    ward.tick(impact(rec) + timedelta(seconds=400))
    assert len(ward.alerts) == 2


def test_a_fall_seen_by_the_device_and_by_motion_pages_once() -> None:
    rec = recording("fall_sideways_walking")
    # The device first (its own detection, sent at the impact), then ours.
    ward = Ward()
    ward.step(DeviceEvent(impact(rec), "w1", "fall"), now=impact(rec))
    ward.stream(rec)
    ward.tick(impact(rec) + timedelta(seconds=60))
    assert ward.rules() == [("fall.device", "raise", "high")]
    # Ours first (pending), then the device after its own 20 s countdown: it pages now, once.
    ward = Ward()
    ward.stream(rec)
    ward.step(DeviceEvent(impact(rec) + timedelta(seconds=20), "w1", "fall"), now=impact(rec))
    ward.tick(impact(rec) + timedelta(seconds=60))
    assert ward.rules() == [("fall.device", "raise", "high")]


def test_a_device_report_takes_the_posture_before_from_the_buffer_to_see_a_get_up() -> None:
    rec = recording("fall_then_gets_up", seed=2)
    assert rec.event_s is not None and rec.gets_up_s is not None
    cut = round((rec.event_s + 0.5) * rec.hz)  # the device reports half a second after impact
    ward = Ward(FallConfig(stillness_std_g=0.001))  # our own detector sees nothing here
    first = motion(rec.samples[:cut], rec.hz, T0)
    ward.step(first, now=impact(rec))
    ward.step(DeviceEvent(impact(rec), "w1", "fall"), now=impact(rec))
    assert ward.state.incident is not None and ward.state.incident.reference is not None
    rest = motion(rec.samples[cut:], rec.hz, T0 + timedelta(seconds=cut / rec.hz))
    ward.step(rest, now=T0 + timedelta(seconds=rec.duration_s))
    assert ward.rules() == [("fall.device", "raise", "high"), ("fall.device", "update", "high")]


def test_the_same_fall_from_two_devices_pages_once_and_a_later_one_again() -> None:
    waist, wrist = (
        recording("fall_forward", "waist", seed=4),
        recording("fall_forward", "wrist", seed=4),
    )
    ward = Ward(FallConfig(cancel_window_s=0))
    ward.stream(waist, device="belt")
    ward.stream(wrist, device="watch")
    assert ward.rules() == [("fall.motion", "raise", "high")]
    assert len(ward.state.detectors) == 2
    ward.state = cancel_pending(ward.state, T0 + timedelta(seconds=60))
    ward.stream(waist, start=T0 + timedelta(minutes=10), device="belt")
    assert ward.rules() == [("fall.motion", "raise", "high")] * 2


def test_rule_state_keeps_a_bounded_number_of_detectors() -> None:
    config = FallConfig(max_devices=2)
    ward = Ward(config)
    samples = np.tile([0.0, -1.0, 0.0], (50, 1))
    for i in range(5):
        ward.step(motion(samples, 50, T0, device=f"d{i}"), now=T0)
    assert [d.device_id for d in ward.state.detectors] == ["d3", "d4"]
    assert ward.state.nbytes <= 2 * 12 * config.buffer_samples(50)


def test_other_observations_only_advance_time() -> None:
    ward = Ward()
    ward.step(DeviceEvent(T0, "w1", "sos"), now=T0)
    ward.step(DeviceEvent(T0, "w1", "wear_off"), now=T0)
    assert ward.alerts == [] and ward.state.incident is None
