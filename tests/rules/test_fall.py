"""Fall detection: the streaming detector on synthetic signals, and the fall rule's life cycle
(cancel window, get-up, "I'm OK", long lie, device reports) on a fake clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import pydantic
import pytest
from numpy.typing import NDArray

from device_sim.motion import ADL_KINDS, FALL_KINDS, Kind, Placement, Recording, generate
from rules.fall import FallRuleState, cancel_pending, fall_rule_step, fall_rule_tick
from rules.fall_config import FallConfig
from rules.fall_detector import FallDetection, FallDetectorState, detect_step
from rules.types import AlertCandidate, DeviceEvent, Motion
from tests.rules.conftest import local, profile

T0 = local(10)
CONFIG = FallConfig()
RESIDENT = profile()
KEY = "fall:resident:7"

# A wrist cannot always see these (device_sim's wrist falls and ADLs, 20 seeds each): a
# forearm on the lap before and flat on the floor after can hold the same attitude, so a
# fall from a chair may show no change of posture; an arm moving on the floor may not pause
# in time; and hands resting on the thighs when dropping into a chair feel the impact and
# end horizontal, like a fall. They are checked as rates below, not seed by seed.
WRIST_AMBIGUOUS = {
    "fall_from_sitting_forward",
    "fall_from_sitting_backward",
    "fall_from_sitting_sideways",
    "fall_then_moves",
    "sit_down_hard",
}


def motion(samples: NDArray[np.float64], hz: float, at: datetime, device: str = "w1") -> Motion:
    return Motion(
        ts=at,
        device_id=device,
        hz=hz,
        ax=tuple(samples[:, 0].tolist()),
        ay=tuple(samples[:, 1].tolist()),
        az=tuple(samples[:, 2].tolist()),
    )


def windows(
    rec: Recording, window_s: float, *, start: datetime = T0, device: str = "w1"
) -> Iterator[Motion]:
    for offset, samples in rec.windows(window_s):
        yield motion(samples, rec.hz, start + timedelta(seconds=offset), device)


def detect(rec: Recording, window_s: float = 2.0) -> list[FallDetection]:
    state = FallDetectorState()
    found: list[FallDetection] = []
    for window in windows(rec, window_s):
        state, detections = detect_step(state, window, config=CONFIG)
        found += detections
    return found


def recording(
    kind: Kind, placement: Placement = "waist", hz: float = 50, seed: int = 0
) -> Recording:
    return generate(kind, placement=placement, hz=hz, rng=np.random.default_rng(seed))


def at_impact(rec: Recording, found: list[FallDetection]) -> bool:
    assert rec.event_s is not None
    return any(abs((d.ts - T0).total_seconds() - rec.event_s) <= 1.5 for d in found)


# --- detector ---------------------------------------------------------------------------------

CASES = [
    pytest.param(kind, placement, hz, seed, id=f"{placement}-{kind}-{hz}Hz-s{seed}")
    for placement in ("waist", "wrist")
    for kind in (*FALL_KINDS, *ADL_KINDS)
    if not (placement == "wrist" and kind in WRIST_AMBIGUOUS)
    for hz, seed in ((25, 0), (50, 0), (50, 1), (100, 0))
]


@pytest.mark.parametrize(("kind", "placement", "hz", "seed"), CASES)
def test_falls_are_detected_at_the_impact_and_daily_activities_are_not(
    kind: Kind, placement: Placement, hz: float, seed: int
) -> None:
    rec = recording(kind, placement, hz, seed)
    found = detect(rec)
    if rec.label == "fall":
        assert at_impact(rec, found), found
    else:
        assert found == []


@pytest.mark.parametrize(
    ("kind", "least", "most"),
    [
        ("fall_from_sitting_forward", 7, 10),
        ("fall_from_sitting_backward", 7, 10),
        ("fall_from_sitting_sideways", 6, 10),
        ("fall_then_moves", 7, 10),
        ("sit_down_hard", 0, 2),
    ],
)
def test_what_a_wrist_cannot_always_tell_is_still_mostly_right(
    kind: Kind, least: int, most: int
) -> None:
    hits = 0
    for seed in range(10):
        rec = recording(kind, "wrist", 50, seed)
        found = detect(rec)
        hits += at_impact(rec, found) if rec.label == "fall" else bool(found)
    assert least <= hits <= most


@pytest.mark.parametrize("window_s", [0.5, 1.0, 3.7, 10.0])
def test_how_the_stream_is_cut_into_windows_does_not_matter(window_s: float) -> None:
    for kind in ("fall_backward_walking", "faint_collapse", "stumble", "sit_down_hard"):
        rec = recording(kind, seed=3)
        assert detect(rec, window_s) == detect(rec, 2.0)


def test_a_fall_straddling_two_windows_is_found_once() -> None:
    rec = recording("fall_sideways", "wrist", seed=2)
    assert rec.event_s is not None
    cut = round(rec.event_s * rec.hz)  # one window ends right at the impact
    first, second = rec.samples[:cut], rec.samples[cut:]
    state, before = detect_step(FallDetectorState(), motion(first, rec.hz, T0), config=CONFIG)
    later = T0 + timedelta(seconds=cut / rec.hz)
    state, after = detect_step(state, motion(second, rec.hz, later), config=CONFIG)
    assert before == [] and len(after) == 1
    assert at_impact(rec, after)
    assert after[0].peak_g >= CONFIG.impact_g and after[0].orientation_change_deg >= 45


def test_a_detection_says_what_it_saw() -> None:
    [d] = detect(recording("fall_forward_walking"))
    assert d.device_id == "w1"
    assert d.peak_g >= 2 and d.orientation_change_deg >= 45 and d.stillness_std_g <= 0.1
    assert 0 < d.confidence <= 1 and d.free_fall_min_g < 1
    assert np.isclose(np.linalg.norm(d.pre_gravity), 1.0)


def test_a_missing_window_starts_the_buffer_over() -> None:
    rec = recording("fall_forward")
    assert rec.event_s is not None
    parts = list(windows(rec, 1.0))
    lost = int(rec.event_s)  # the second with the impact never arrives
    state = FallDetectorState()
    found: list[FallDetection] = []
    for i, window in enumerate(parts):
        if i == lost:
            continue
        state, detections = detect_step(state, window, config=CONFIG)
        found += detections
        if i == lost + 1:
            assert state.count == len(window.ax)  # a new run
    assert found == []


def test_another_rate_or_a_bad_window_resets_without_failing() -> None:
    rec = recording("walk")
    state, _ = detect_step(FallDetectorState(), next(windows(rec, 2.0)), config=CONFIG)
    nxt = T0 + timedelta(seconds=2)
    other_rate = Motion(nxt, "w1", 25.0, (0.0,) * 25, (-1.0,) * 25, (0.0,) * 25)
    state, _ = detect_step(state, other_rate, config=CONFIG)
    assert (state.hz, state.count) == (25.0, 25)
    uneven = Motion(nxt + timedelta(seconds=1), "w1", 25.0, (0.0,), (1.0, 1.0), (0.0,))
    state, found = detect_step(state, uneven, config=CONFIG)
    assert found == [] and state.count == 0 and state.origin is None
    nan = Motion(nxt, "w1", 25.0, (float("nan"),), (1.0,), (0.0,))
    too_fast = Motion(nxt, "w1", 5000.0, (0.0,), (1.0,), (0.0,))
    for window in (nan, too_fast):
        state, found = detect_step(state, window, config=CONFIG)
        assert found == [] and state.count == 0


def test_detector_state_stays_bounded() -> None:
    hz = 200.0
    rng = np.random.default_rng(0)
    state = FallDetectorState()
    for second in range(120):
        samples = np.array([0.0, -1.0, 0.0]) + rng.normal(0, 0.05, (int(hz), 3))
        window = motion(samples, hz, T0 + timedelta(seconds=second))
        state, _ = detect_step(state, window, config=CONFIG)
    assert state.count == 120 * hz
    assert len(state.buffer) == CONFIG.buffer_samples(hz)
    assert state.nbytes <= 12 * CONFIG.buffer_samples(hz) <= 25_000  # 10 s of 3 float32
    assert not state.buffer.flags.writeable


# --- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"impact_g": 0.8}, "impact_g"),
        ({"orientation_change_deg": 200}, "orientation_change_deg"),
        ({"stillness_std_g": -0.1}, "stillness_std_g"),
        ({"cancel_window_s": -1}, "cancel_window_s"),
        ({"impact_threshold": 3}, "Extra inputs are not permitted"),
        ({"getup_deg": 50}, "getup_deg (50.0) must be below orientation_change_deg"),
        ({"long_lie_s": 20}, "long_lie_s (20.0) must be longer than cancel_window_s"),
        ({"drop_free_fall_g": 0.7}, "drop_free_fall_g (0.7) must be below free_fall_g"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_config_is_validated_with_clear_errors(values: dict[str, float], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=re.escape(message)):
        FallConfig.model_validate(values)


def test_config_defaults_load_and_are_frozen() -> None:
    config = FallConfig.model_validate({"cancel_window_s": 0})
    assert config.cancel_window_s == 0 and config.impact_g == 2.0
    with pytest.raises(pydantic.ValidationError):
        config.impact_g = 3.0  # type: ignore[misc]


# --- rule -------------------------------------------------------------------------------------


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
