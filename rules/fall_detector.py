"""The fall detector: a streaming search over one device's accelerometer windows.

Pure: no I/O, no logging, no clock. Signal features: rules/fall_signal.py; settings:
rules/fall_config.py; the rule that turns detections into alerts: rules/fall.py.

How the detector decides (per impact): free fall → impact → the body at rest elsewhere.
- candidate: |a| >= `impact_g`; of several before the body comes to rest, the largest;
- it comes to rest: a stretch of `stillness_window_s` with std|a| <= `stillness_std_g`
  starting `settle_s` to `settle_s + rest_search_s` after the impact (the first such);
- the posture changed: the mean gravity direction over that rest is >=
  `orientation_change_deg` away from the one over `pre_window_s` ending `pre_gap_s` before
  the impact (angles in the device frame: no axis needs to be "up", belt or wrist alike);
- it is not a dropped device: true free fall, then no movement beyond sensor noise;
- per placement, the impact is abrupt (`min_jerk_gps`): a collision, not an arm swung up;
  and not one of a series (`max_similar_before`): a clap among claps, a step of a jog.
Free fall is not required (falls from a chair or a faint have little of it); it only raises
the confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from rules.fall_config import FallConfig
from rules.fall_signal import ImpactFeatures, Vector, impact_features, magnitude, mean_direction
from rules.types import Motion


@dataclass(frozen=True, slots=True)
class FallDetection:
    """One fall the detector found; `ts` is the impact. `pre_gravity` (device frame) is the
    posture before the fall, which the rule compares against to see the resident up again."""

    ts: datetime
    device_id: str
    peak_g: float
    orientation_change_deg: float
    stillness_std_g: float
    free_fall_min_g: float
    descent_mps: float
    jerk_gps: float
    similar_before: int
    confidence: float
    pre_gravity: Vector


def _empty() -> NDArray[np.float32]:
    return np.zeros((0, 3), dtype=np.float32)


@dataclass(frozen=True, slots=True, eq=False)
class FallDetectorState:
    """One device's detector: the last `FallConfig.buffer_s()` seconds of samples (10 s by
    default, 3 float32 each: 6 kB at 50 Hz, 24 kB at 200 Hz, at most 48 kB at `max_hz` 400),
    where the current continuous run started, and where the search for impacts has got to."""

    device_id: str = ""
    hz: float = 0.0
    origin: datetime | None = None  # time of sample 0 of the current run
    count: int = 0  # samples seen in the current run
    buffer: NDArray[np.float32] = field(default_factory=_empty)  # the last ones, read-only
    scan_from: int = 0  # first sample (run index) not yet ruled out as an impact

    @property
    def next_ts(self) -> datetime | None:
        """When the next window should start if nothing is lost."""
        if self.origin is None:
            return None
        return self.origin + timedelta(seconds=self.count / self.hz)

    @property
    def nbytes(self) -> int:
        return int(self.buffer.nbytes)

    def time_of(self, index: int) -> datetime:
        assert self.origin is not None
        return self.origin + timedelta(seconds=index / self.hz)


def window_samples(window: Motion, max_hz: float) -> NDArray[np.float64] | None:
    """The window's samples as an (n, 3) array in g, or None when it is unusable (axes of
    different lengths, non-finite values, a rate out of range)."""
    n = len(window.ax)
    if n == 0 or len(window.ay) != n or len(window.az) != n:
        return None
    if not (math.isfinite(window.hz) and 0 < window.hz <= max_hz):
        return None
    samples = np.column_stack([window.ax, window.ay, window.az]).astype(np.float64)
    if not np.isfinite(samples).all():
        return None
    return samples


def detect_step(
    state: FallDetectorState, window: Motion, *, config: FallConfig
) -> tuple[FallDetectorState, list[FallDetection]]:
    """Feed one device's next window; returns the new state and the falls it completed.

    A fall is reported once the body has come to rest after the impact: `settle_s +
    stillness_window_s` after it at the earliest (2.5 s by default), `rest_search_s` later at
    the latest, in whichever window that arrives; the result does not depend on how the
    signal is cut into windows. A window that
    does not continue the previous one (gap, overlap, other rate or device) starts a new
    run; an unusable one (bad lengths, non-finite values, rate out of range) is dropped and
    also resets, since the signal is no longer continuous.
    """
    samples = window_samples(window, config.max_hz)
    if samples is None:
        return FallDetectorState(device_id=window.device_id), []
    expected = state.next_ts
    continues = (
        expected is not None
        and state.device_id == window.device_id
        and state.hz == window.hz
        and abs((window.ts - expected).total_seconds()) <= config.gap_tolerance_s
    )
    hz = window.hz
    if continues:
        # Re-anchor on the device's own timestamp so rate drift does not accumulate.
        origin = window.ts - timedelta(seconds=state.count / hz)
        buf = np.concatenate([state.buffer.astype(np.float64), samples])
        base = state.count - len(state.buffer)  # run index of buf[0]
        scan = state.scan_from
    else:
        origin, buf, base, scan = window.ts, samples, 0, 0
    count = base + len(buf)
    run = FallDetectorState(window.device_id, hz, origin, count, _empty(), scan)
    scan, detections = _scan(run, buf, base, scan, config)
    keep = buf[-config.buffer_samples(hz) :].astype(np.float32)
    keep.flags.writeable = False
    return replace(run, buffer=keep, scan_from=scan), detections


def _scan(
    run: FallDetectorState,
    buf: NDArray[np.float64],
    base: int,
    scan: int,
    config: FallConfig,
) -> tuple[int, list[FallDetection]]:
    """Assess every sample >= impact_g from `scan` on, in order. Knees, hip and shoulder may
    each hit: the largest impact before the body comes to rest is the fall's (the smaller
    ones give way to it); after a fall, its rebounds and struggling are not new falls."""
    mag = magnitude(buf)
    found: list[FallDetection] = []
    i = max(scan, base)
    while True:
        above = np.flatnonzero(mag[i - base :] >= config.impact_g)
        if len(above) == 0:
            return max(i, run.count), found
        peak = i + int(above[0])
        outcome = impact_features(
            buf,
            peak - base,
            run.hz,
            pre_gap_s=config.pre_gap_s,
            pre_window_s=config.pre_window_s,
            settle_s=config.settle_s,
            rest_search_s=config.rest_search_s,
            still_window_s=config.stillness_window_s,
            still_std_g=config.stillness_std_g,
            ballistic_g=config.drop_free_fall_g,
            mag=mag,
        )
        if outcome == "wait":
            return peak, found
        if outcome is not None and is_fall(outcome, config):
            found.append(_detection(run, peak, outcome, config))
            i = base + outcome.rest_end
        else:
            i = peak + 1


def is_fall(f: ImpactFeatures, config: FallConfig) -> bool:
    """The decision, given an impact >= impact_g: lying somewhere else, not moving on, and
    not a dropped device."""
    dropped = (
        f.ballistic_s >= config.drop_free_fall_s and f.post_movement <= config.drop_movement_ratio
    )
    return (
        f.peak_g / (1.0 + config.impact_activity_k * f.pre_activity_g) >= config.impact_g
        and f.orientation_change_deg >= config.orientation_change_deg
        and f.descent_mps >= config.min_descent_mps
        and f.jerk_gps >= config.min_jerk_gps
        and (config.max_similar_before is None or f.similar_before <= config.max_similar_before)
        and f.post_std_g <= config.stillness_std_g
        and not dropped
    )


def confidence(f: ImpactFeatures, config: FallConfig) -> float:
    """0..1, the mean of four scores that are 0.5 at their threshold and 1 at twice as clear:
    impact, free fall, posture change and stillness. Informative only; it decides nothing."""

    def score(value: float) -> float:
        return float(np.clip(value, 0.0, 1.0))

    return (
        score((f.peak_g - 1) / (2 * (config.impact_g - 1)))
        + score((1 - f.free_fall_min_g) / (2 * (1 - config.free_fall_g)))
        + score(f.orientation_change_deg / (2 * config.orientation_change_deg))
        + score(1 - f.post_std_g / (2 * config.stillness_std_g))
    ) / 4


def _detection(
    run: FallDetectorState, peak: int, f: ImpactFeatures, config: FallConfig
) -> FallDetection:
    return FallDetection(
        ts=run.time_of(peak),
        device_id=run.device_id,
        peak_g=round(f.peak_g, 3),
        orientation_change_deg=round(f.orientation_change_deg, 1),
        stillness_std_g=round(f.post_std_g, 4),
        free_fall_min_g=round(f.free_fall_min_g, 3),
        descent_mps=round(f.descent_mps, 2),
        jerk_gps=round(f.jerk_gps, 1),
        similar_before=f.similar_before,
        confidence=round(confidence(f, config), 2),
        pre_gravity=f.pre_gravity,
    )


def posture_before(state: FallDetectorState, ts: datetime, *, config: FallConfig) -> Vector | None:
    """The device-frame posture before an impact at `ts`, if the buffer still holds it."""
    if state.origin is None or len(state.buffer) == 0:
        return None
    base = state.count - len(state.buffer)
    at = round((ts - state.origin).total_seconds() * state.hz) - base
    end = at - round(config.pre_gap_s * state.hz)
    start = end - round(config.pre_window_s * state.hz)
    if start < 0 or end > len(state.buffer):
        return None
    return mean_direction(state.buffer[start:end])
