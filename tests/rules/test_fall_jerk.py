"""The impact's abruptness (jerk): a collision against an arm raised with the same peak and the
same change of posture, which only the abruptness tells apart at the wrist."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from numpy.typing import NDArray

from rules.fall_config import FallConfig, detector_config
from rules.fall_detector import FallDetection, FallDetectorState, detect_step
from rules.fall_signal import impact_jerk
from tests.rules.fall_streams import T0, motion

HZ = 50.0
PEAK_G = 3.0


def movement(rise_s: float, seed: int = 0) -> NDArray[np.float64]:
    """4 s still with the forearm level, a peak of PEAK_G along the new gravity direction that
    takes `rise_s` to build up and as long to fade, then 8 s still with the forearm turned
    90° (a hand raised and held, or a forearm lying on the floor after a fall)."""
    rng = np.random.default_rng(seed)
    before, after = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    n_rise = max(1, round(rise_s * HZ))
    bump = np.sin(np.linspace(0.0, np.pi, 2 * n_rise + 1)) * (PEAK_G - 1.0)
    parts = [
        np.tile(before, (round(4 * HZ), 1)),
        (1.0 + bump)[:, None] * after,
        np.tile(after, (round(8 * HZ), 1)),
    ]
    samples = np.vstack(parts)
    return samples + rng.normal(0.0, 0.01, samples.shape)


def detect(samples: NDArray[np.float64], config: FallConfig) -> list[FallDetection]:
    state, found = FallDetectorState(), []
    step = round(2 * HZ)
    for start in range(0, len(samples), step):
        window = motion(samples[start : start + step], HZ, T0 + timedelta(seconds=start / HZ))
        state, out = detect_step(state, window, config=config)
        found += out
    return found


def wrist() -> FallConfig:
    config = detector_config(FallConfig(), "wrist")
    assert config is not None
    return config


def test_jerk_is_the_largest_change_between_samples_near_the_peak() -> None:
    sharp, smooth = movement(0.02), movement(0.3)
    peak_sharp = int(np.argmax(np.linalg.norm(sharp, axis=1)))
    peak_smooth = int(np.argmax(np.linalg.norm(smooth, axis=1)))
    # From 1 g to 3 g along the same axis in one sample: 2 g per 20 ms.
    assert impact_jerk(sharp, peak_sharp, HZ) == pytest.approx(2.0 * HZ, rel=0.05)
    assert impact_jerk(smooth, peak_smooth, HZ) < 20.0
    assert impact_jerk(sharp[:1], 0, HZ) == 0.0


def test_the_wrist_ignores_an_arm_raised_to_the_same_peak_but_not_a_collision() -> None:
    assert wrist().min_jerk_gps > 0
    [fall] = detect(movement(0.02), wrist())
    assert fall.jerk_gps >= wrist().min_jerk_gps and fall.peak_g >= 2.5
    assert fall.orientation_change_deg == pytest.approx(90.0, abs=3.0)
    assert detect(movement(0.3), wrist()) == []
    # Only the abruptness: without its threshold the same detector takes the raised arm.
    assert len(detect(movement(0.3), wrist().model_copy(update={"min_jerk_gps": 0.0}))) == 1


def test_a_required_jerk_is_checked_on_the_detection() -> None:
    general = FallConfig()
    assert general.min_jerk_gps == 0.0  # not required where nothing was measured
    [fall] = detect(movement(0.1), general)
    assert detect(movement(0.1), FallConfig(min_jerk_gps=fall.jerk_gps + 0.5)) == []
    assert len(detect(movement(0.1), FallConfig(min_jerk_gps=fall.jerk_gps - 0.5))) == 1


def after_claps(claps: int, seed: int = 0) -> NDArray[np.float64]:
    """`movement(0.02)` (a collision, then the forearm turned 90° and still) with `claps`
    sharp peaks of 2.6 g, 0.4 s apart, in the 2 s before it."""
    samples = movement(0.02, seed)
    impact = int(np.argmax(np.linalg.norm(samples, axis=1)))
    for i in range(claps):
        at = impact - round((0.5 + 0.4 * i) * HZ)
        samples[at] *= 2.6 / np.linalg.norm(samples[at])
    return samples


def test_comparable_peaks_are_counted_before_the_impact() -> None:
    from rules.fall_signal import similar_peaks

    lead = np.array([1.0, 2.5, 1.0, 1.2, 1.0, 2.0, 1.0])
    assert similar_peaks(lead, 3.0) == 1  # 2.5 g >= 1 + 0.7 x 2; 2.0 g and 1.2 g are not
    assert similar_peaks(lead, 2.0) == 2
    assert similar_peaks(lead[:2], 3.0) == 0


def test_the_wrist_ignores_an_impact_that_is_one_of_a_series() -> None:
    config = wrist()
    assert config.max_similar_before == 1
    [fall] = detect(after_claps(1), config)
    assert fall.similar_before == 1 and fall.peak_g >= 2.9
    assert detect(after_claps(2), config) == []
    assert detect(after_claps(3), config) == []
    # Only the series: with any number allowed the same detector takes it.
    assert len(detect(after_claps(3), config.model_copy(update={"max_similar_before": None}))) == 1
    assert FallConfig().max_similar_before is None  # not checked where nothing was measured
