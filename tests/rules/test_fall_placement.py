"""Placement in the fall rule: settings per placement, none at all for a bed, and the
descent feature a placement may require."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pydantic
import pytest
from numpy.typing import NDArray

from rules.fall import FallRuleState, fall_rule_step
from rules.fall_config import FallConfig, PlacementSettings, detector_config
from rules.fall_detector import FallDetectorState, detect_step
from rules.fall_placement import PLACEMENTS, WORN, parse_placement
from rules.fall_signal import ImpactFeatures
from rules.types import AlertCandidate
from tests.rules.conftest import profile
from tests.rules.fall_streams import T0, motion, recording, windows

NOW_PAGE = FallConfig(cancel_window_s=0)


def alerts(
    config: FallConfig, placement: str | None, kind: str = "fall_backward_walking"
) -> list[AlertCandidate]:
    state, out = FallRuleState(), []
    rec = recording(kind)  # type: ignore[arg-type]
    for window in windows(rec, 2.0):
        end = window.ts + timedelta(seconds=len(window.ax) / window.hz)
        state, found = fall_rule_step(
            state,
            replace(window, placement=placement),  # type: ignore[arg-type]
            profile=profile(),
            now=end,
            config=config,
        )
        out += found
    return out


@pytest.mark.parametrize("placement", [None, "waist", "wrist", "chest", "pendant"])
def test_a_worn_device_detects_the_fall(placement: str | None) -> None:
    assert [a.rule_id for a in alerts(NOW_PAGE, placement)] == ["fall.motion"]


def test_a_bed_sensor_claims_no_fall_from_motion_and_keeps_no_detector() -> None:
    assert alerts(NOW_PAGE, "bed") == []
    assert detector_config(NOW_PAGE, "bed") is None
    state = FallRuleState()
    for window in windows(recording("fall_backward_walking"), 2.0):
        state, _ = fall_rule_step(
            state, replace(window, placement="bed"), profile=profile(), now=T0, config=NOW_PAGE
        )
    assert state.detectors == ()


def test_placement_settings_apply_to_that_placement_only() -> None:
    rec = recording("fall_backward_walking")
    peak = max(
        float((a**2 + b**2 + c**2) ** 0.5)
        for w in windows(rec, 2.0)
        for a, b, c in zip(w.ax, w.ay, w.az, strict=True)
    )
    above = FallConfig(
        cancel_window_s=0,
        placements={"wrist": PlacementSettings(impact_g=min(16.0, peak + 0.5))},
    )
    assert alerts(above, "wrist") == []  # its impact is below the wrist's threshold
    assert len(alerts(above, "waist")) == 1  # the general one still finds it
    assert len(alerts(above, None)) == 1
    wrist = detector_config(above, "wrist")
    assert wrist is not None and wrist.impact_g == min(16.0, peak + 0.5)
    assert detector_config(above, "waist") is above


def test_a_required_descent_is_checked_on_the_detection() -> None:
    rec = recording("fall_backward_walking")
    state, found = FallDetectorState(), []
    for window in windows(rec, 2.0):
        state, out = detect_step(state, window, config=FallConfig())
        found += out
    [detection] = found
    assert detection.descent_mps > 0
    just_above = FallConfig(min_descent_mps=detection.descent_mps + 0.01)
    state, found = FallDetectorState(), []
    for window in windows(rec, 2.0):
        state, out = detect_step(state, window, config=just_above)
        found += out
    assert found == []


@pytest.mark.parametrize(
    ("placements", "message"),
    [
        ({"bed": {"impact_g": 3.0}}, "placement 'bed' has no motion detector"),
        ({"wrist": {"orientation_change_deg": 20.0}}, "placements.wrist"),
        ({"wrist": {"impact_g": 0.5}}, "greater than 1"),
        ({"ankle": {}}, "placements.ankle"),
    ],
)
def test_placement_settings_are_validated(placements: object, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        FallConfig.model_validate({"placements": placements})


def test_placement_names() -> None:
    assert set(PLACEMENTS) == {"wrist", "waist", "chest", "pendant", "bed"}
    assert "bed" not in WORN
    assert parse_placement("wrist") == "wrist"
    with pytest.raises(ValueError, match="unknown placement 'ankle'"):
        parse_placement("ankle")


def test_a_copy_with_new_general_settings_carries_them_to_each_placement() -> None:
    config = FallConfig().model_copy(update={"settle_s": 2.0})
    wrist = detector_config(config, "wrist")
    assert wrist is not None and wrist.settle_s == 2.0 and wrist.impact_activity_k == 1.0
    with pytest.raises(pydantic.ValidationError):
        FallConfig().model_copy(update={"impact_g": 0.5})


def test_site_overrides_reach_a_placement() -> None:
    from rules.config import with_overrides

    config = with_overrides(FallConfig(), {"placements.wrist.impact_g": 3.0})
    wrist = detector_config(config, "wrist")
    shipped = detector_config(FallConfig(), "wrist")
    assert wrist is not None and shipped is not None and wrist.impact_g == 3.0
    assert wrist.orientation_change_deg == shipped.orientation_change_deg != 45.0


def test_an_impact_is_judged_against_the_activity_before_it() -> None:
    rec = recording("fall_backward_walking")
    state, found = FallDetectorState(), []
    for window in windows(rec, 2.0):
        state, out = detect_step(state, window, config=FallConfig())
        found += out
    [detection] = found
    # peak / (1 + k a) against impact_g, with a the activity before the impact.
    f = impact_of(rec)
    assert f.pre_activity_g > 0
    assert detection.peak_g == pytest.approx(f.peak_g, abs=1e-3)
    limit = f.peak_g / (1 + 2.0 * f.pre_activity_g)
    assert limit > 1.05
    assert detects(rec, FallConfig(impact_g=0.95 * limit, impact_activity_k=2.0))
    assert not detects(rec, FallConfig(impact_g=1.05 * limit, impact_activity_k=2.0))
    assert detects(rec, FallConfig(impact_g=1.05 * limit))  # the plain peak clears it


def impact_of(rec: object) -> ImpactFeatures:
    from rules.fall_signal import impact_features, magnitude

    samples = rec.samples  # type: ignore[attr-defined]
    hz = rec.hz  # type: ignore[attr-defined]
    c = FallConfig()
    mag = magnitude(samples)
    peak = int(np.argmax(mag))
    out = impact_features(
        samples,
        peak,
        hz,
        pre_gap_s=c.pre_gap_s,
        pre_window_s=c.pre_window_s,
        settle_s=c.settle_s,
        rest_search_s=c.rest_search_s,
        still_window_s=c.stillness_window_s,
        still_std_g=c.stillness_std_g,
        ballistic_g=c.drop_free_fall_g,
    )
    assert isinstance(out, ImpactFeatures)
    return out


def detects(rec: object, config: FallConfig) -> bool:
    state, found = FallDetectorState(), []
    for window in windows(rec, 2.0):  # type: ignore[arg-type]
        state, out = detect_step(state, window, config=config)
        found += out
    return bool(found)


def arm_comes_to_rest(
    after_s: float, hz: float = 50.0, turn_deg: float = 90.0
) -> NDArray[np.float64]:
    """4 s still, an abrupt 3 g impact that turns the forearm `turn_deg`, the arm moving about
    (|a| 0.7-1.3 g) for `after_s`, then 8 s still in the new attitude."""
    rng = np.random.default_rng(0)
    turn = np.radians(turn_deg)
    before, after = np.array([0.0, 0.0, 1.0]), np.array([np.sin(turn), 0.0, np.cos(turn)])
    t = np.arange(round(after_s * hz)) / hz
    parts = [
        np.tile(before, (round(4 * hz), 1)),
        np.array([3.0, 2.0, 1.5])[:, None] * after,
        (1.0 + 0.3 * np.sin(2 * np.pi * 1.5 * t))[:, None] * after,
        np.tile(after, (round(8 * hz), 1)),
    ]
    samples = np.vstack(parts)
    return samples + rng.normal(0.0, 0.01, samples.shape)


def detections(samples: NDArray[np.float64], config: FallConfig, hz: float = 50.0) -> int:
    state, found, step = FallDetectorState(), 0, round(2 * hz)
    for start in range(0, len(samples), step):
        window = motion(samples[start : start + step], hz, T0 + timedelta(seconds=start / hz))
        state, out = detect_step(state, window, config=config)
        found += len(out)
    return found


def test_a_wrist_must_come_to_rest_soon_after_the_impact() -> None:
    wrist = detector_config(FallConfig(), "wrist")
    assert wrist is not None and wrist.rest_search_s < FallConfig().rest_search_s
    # A faller's arm settles within a few seconds; an arm that goes on moving for longer
    # (walking on after a stumble, a hand busy after a knock) is no fall's at the wrist.
    assert detections(arm_comes_to_rest(1.0), wrist) == 1
    assert detections(arm_comes_to_rest(3.5), wrist) == 0
    # Only the rest's deadline: the general settings (rest within 1 to 6 s) take it.
    assert detections(arm_comes_to_rest(3.5), FallConfig()) == 1
    assert detections(arm_comes_to_rest(3.5), wrist.model_copy(update={"rest_search_s": 5.0})) == 1


def test_a_forearm_may_end_a_fall_near_its_old_attitude() -> None:
    wrist = detector_config(FallConfig(), "wrist")
    assert wrist is not None
    # A wrist fall whose forearm lands 33.5° from where it was (falls-dev: many do).
    assert detections(arm_comes_to_rest(0.5, turn_deg=33.5), wrist) == 1
    assert detections(arm_comes_to_rest(0.5, turn_deg=28.0), wrist) == 0
    assert detections(arm_comes_to_rest(0.5, turn_deg=33.5), FallConfig()) == 0  # 45° there
