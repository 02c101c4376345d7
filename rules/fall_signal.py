"""Pure signal processing for fall detection: the features of one candidate impact.

Every feature is independent of how the device is mounted: magnitudes of acceleration, and
angles between mean gravity directions measured in the device's own frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

G: Final = 9.80665  # m/s² per g

Samples = NDArray[np.floating]  # (n, 3) acceleration in g
Vector = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class ImpactFeatures:
    """What the signal says around one impact (index `peak` in the buffer it came from)."""

    peak_g: float
    free_fall_min_g: float  # lowest |a| during the descent before the impact
    descent_mps: float  # velocity lost to "unweighting" during the descent (see descent_speed)
    ballistic_s: float  # time spent in true free fall (|a| near 0) during the descent
    orientation_change_deg: float  # mean gravity direction before vs after
    post_std_g: float  # std of |a| after the impact has settled
    post_wobble_g: float  # slow per-axis movement after the impact (a person breathes)
    pre_gravity: Vector  # unit vector, device frame: the posture before the fall


def magnitude(samples: Samples) -> NDArray[np.float64]:
    return np.asarray(np.sqrt(np.einsum("ij,ij->i", samples, samples)), dtype=np.float64)


def mean_direction(samples: Samples) -> Vector | None:
    """Unit vector of the mean acceleration, i.e. gravity in the device frame; None when the
    mean is far from 1 g in size (free fall, a tumble) and so says nothing about posture."""
    if len(samples) == 0:
        return None
    mean = np.asarray(samples, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm < 0.5:
        return None
    x, y, z = (mean / norm).tolist()
    return (x, y, z)


def angle_deg(a: Vector, b: Vector) -> float:
    cos = float(np.clip(np.dot(a, b), -1.0, 1.0))
    return float(np.degrees(np.arccos(cos)))


def descent_speed(mag: NDArray[np.float64], hz: float) -> float:
    """g·∫(1 − |a|)dt over the stretch where it is largest (m/s).

    While a body drops, the accelerometer reads less than 1 g; the shortfall integrated over
    time approximates the downward speed gained (Bourke et al. 2010 used vertical velocity).
    It is an integral, so unlike a peak it survives low sampling rates and averaging.
    """
    if len(mag) == 0:
        return 0.0
    # The best contiguous sum: the largest rise of the running integral above its past minimum.
    running = np.concatenate([[0.0], np.cumsum((1.0 - mag) / hz)])
    return float((running - np.minimum.accumulate(running)).max()) * G


def slow_wobble(samples: Samples, hz: float) -> float:
    """Largest per-axis standard deviation after a 0.5 s moving average (g).

    The average removes sensor noise; what is left is slow movement. A worn device keeps
    moving with breathing and small shifts; a dropped one lying on the floor does not.
    """
    width = max(1, round(0.5 * hz))
    if len(samples) <= width:
        return 0.0
    cum = np.cumsum(np.vstack([np.zeros((1, 3)), samples]), axis=0)
    smooth = (cum[width:] - cum[:-width]) / width
    return float(smooth.std(axis=0).max())


def impact_features(
    buf: Samples,
    peak: int,
    hz: float,
    *,
    pre_gap_s: float,
    pre_window_s: float,
    settle_s: float,
    still_window_s: float,
    ballistic_g: float,
) -> ImpactFeatures | None:
    """Features of the impact at buf[peak]; None if the buffer lacks the posture before it
    (at least half the pre window) or the full window after it."""
    gap = round(pre_gap_s * hz)
    pre_start = max(0, peak - gap - round(pre_window_s * hz))
    pre_end = peak - gap
    post_start = peak + round(settle_s * hz)
    post_end = post_start + round(still_window_s * hz)
    if pre_end - pre_start < max(1, round(pre_window_s * hz / 2)) or post_end > len(buf):
        return None
    before = mean_direction(buf[pre_start:pre_end])
    after = mean_direction(buf[post_start:post_end])
    if before is None or after is None:
        return None
    mag = magnitude(buf[max(0, pre_end) : post_end])
    peak_at = peak - max(0, pre_end)
    descent = mag[:peak_at]
    post_mag = magnitude(buf[post_start:post_end])
    return ImpactFeatures(
        peak_g=float(mag[peak_at]),
        free_fall_min_g=float(descent.min()) if len(descent) else 1.0,
        descent_mps=descent_speed(descent, hz),
        ballistic_s=float(np.count_nonzero(descent < ballistic_g)) / hz,
        orientation_change_deg=angle_deg(before, after),
        post_std_g=float(post_mag.std()),
        post_wobble_g=slow_wobble(buf[post_start:post_end], hz),
        pre_gravity=before,
    )
