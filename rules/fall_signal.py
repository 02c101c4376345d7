"""Pure signal processing for fall detection: the features of one candidate impact.

Every feature is independent of how the device is mounted: magnitudes of acceleration, and
angles between mean gravity directions measured in the device's own frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

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
    post_std_g: float  # std of |a| over the rest after the impact
    post_movement: float  # slow movement after the impact, in units of sensor noise
    pre_activity_g: float  # rms of |a| - 1 before the impact (see impact_features)
    jerk_gps: float  # how abruptly the acceleration changes at the impact (see impact_jerk)
    similar_before: int  # comparable peaks shortly before this one (see similar_peaks)
    pre_gravity: Vector  # unit vector, device frame: the posture before the fall
    rest_end: int  # buffer index just past the stretch of rest the posture was taken from


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
    time approximates the downward speed gained (Bourke et al. 2010 thresholded vertical
    velocity). An integral, so unlike a peak it survives low sampling rates and averaging.
    Reported for review; the decision does not use it.
    """
    if len(mag) == 0:
        return 0.0
    # The best contiguous sum: the largest rise of the running integral above its past minimum.
    running = np.concatenate([[0.0], np.cumsum((1.0 - mag) / hz)])
    return float((running - np.minimum.accumulate(running)).max()) * G


def impact_jerk(samples: Samples, peak: int, hz: float, *, half_width_s: float = 0.2) -> float:
    """The largest change of the acceleration vector from one sample to the next within
    `half_width_s` of the peak, per second (g/s).

    A collision stops a limb within tens of milliseconds, so the acceleration jumps; swinging
    an arm up, waving or reaching builds the same peak up over 100-300 ms (a wrist raised
    quickly reads 3 g, smoothly). Being a difference between samples it depends on the rate
    and on any averaging before it: the thresholds that use it were chosen on 50 Hz data.
    """
    reach = max(1, round(half_width_s * hz))
    seg = np.asarray(samples[max(0, peak - reach) : peak + reach + 1], dtype=np.float64)
    if len(seg) < 2:
        return 0.0
    return float(np.sqrt((np.diff(seg, axis=0) ** 2).sum(axis=1)).max()) * hz


# A peak before the impact is "comparable" when it reaches this share of the impact's excess
# over 1 g: a clap in a series of claps, a step of a jog; a fall's impact dwarfs what came
# before it (the arm swinging while walking, a stumble).
SIMILAR_SHARE: Final = 0.7


def similar_peaks(mag: NDArray[np.float64], peak_g: float) -> int:
    """How many local maxima of |a| in `mag` (the seconds before an impact) reach
    SIMILAR_SHARE of the impact's excess over 1 g."""
    if len(mag) < 3:
        return 0
    mid = mag[1:-1]
    tops = mid[(mid > mag[:-2]) & (mid >= mag[2:])]
    return int(np.count_nonzero(tops > 1.0 + SIMILAR_SHARE * (peak_g - 1.0)))


def movement_over_noise(samples: Samples, hz: float) -> float:
    """How much slow movement there is, in units of what sensor noise alone would leave.

    Per axis: the spread of a 0.2 s moving average over the spread white noise of the size
    seen sample-to-sample would leave after that average; the largest axis. About 1 for a
    device lying on a table; breathing, a pulse or the smallest shift of a worn device raise
    it. Being a ratio, it needs no knowledge of the sensor's noise level.
    """
    width = max(2, round(0.2 * hz))
    if len(samples) < 4 * width:
        return float("inf")
    x = np.asarray(samples, dtype=np.float64)
    cum = np.cumsum(np.vstack([np.zeros((1, 3)), x]), axis=0)
    smooth = (cum[width:] - cum[:-width]) / width
    # Floor: quantisation alone (1/256 g steps) is ~1 mg rms even without noise.
    noise = np.maximum(np.diff(x, axis=0).std(axis=0) / np.sqrt(2), 1e-3)
    return float((smooth.std(axis=0) / (noise / np.sqrt(width))).max())


def impact_features(
    buf: Samples,
    peak: int,
    hz: float,
    *,
    pre_gap_s: float,
    pre_window_s: float,
    settle_s: float,
    rest_search_s: float,
    still_window_s: float,
    still_std_g: float,
    ballistic_g: float,
    mag: NDArray[np.float64] | None = None,
) -> ImpactFeatures | Literal["wait"] | None:
    """Features of the impact at buf[peak], once the body has come to rest after it.

    The rest is the first stretch of `still_window_s` with std|a| <= `still_std_g` starting
    `settle_s` to `settle_s + rest_search_s` after the impact (a faint crumples, then
    topples; a faller may move before lying still). Returns "wait" while the buffer ends
    before that is known, and None when this is no fall's impact: the posture before it is
    not in the buffer, a larger impact comes before the rest (then that one is the impact),
    or there is no rest in time. `mag` is magnitude(buf), if the caller has it already.
    """
    gap = round(pre_gap_s * hz)
    pre_start = max(0, peak - gap - round(pre_window_s * hz))
    pre_end = peak - gap
    if pre_end - pre_start < max(1, round(pre_window_s * hz / 2)):
        return None
    mag = magnitude(buf) if mag is None else mag
    length = max(2, round(still_window_s * hz))
    first = peak + round(settle_s * hz)
    step = max(1, round(0.25 * hz))
    for start in range(first, first + round(rest_search_s * hz) + 1, step):
        end = start + length
        if end > len(buf):
            return "wait"
        if mag[peak + 1 : end].max() > mag[peak]:
            return None
        if mag[start:end].std() <= still_std_g:
            return _features(buf, mag, peak, pre_start, pre_end, start, end, hz, ballistic_g)
    return None


def _features(
    buf: Samples,
    mag: NDArray[np.float64],
    peak: int,
    pre_start: int,
    pre_end: int,
    rest_start: int,
    rest_end: int,
    hz: float,
    ballistic_g: float,
) -> ImpactFeatures | None:
    before = mean_direction(buf[pre_start:pre_end])
    post = buf[rest_start:rest_end]
    # How busy the signal was before the impact, up to 0.3 s before it (the fall itself), and
    # how many peaks like this one it had: a fall's impact stands out from walking or
    # sitting; a clap, a knock or a jogging step is one of a series.
    lead = mag[pre_start : max(pre_start + 1, peak - round(0.3 * hz))]
    after = mean_direction(post)
    if before is None or after is None:
        return None
    descent = mag[max(0, pre_end) : peak]
    return ImpactFeatures(
        peak_g=float(mag[peak]),
        free_fall_min_g=float(descent.min()) if len(descent) else 1.0,
        descent_mps=descent_speed(descent, hz),
        ballistic_s=float(np.count_nonzero(descent < ballistic_g)) / hz,
        orientation_change_deg=angle_deg(before, after),
        post_std_g=float(mag[rest_start:rest_end].std()),
        post_movement=movement_over_noise(post, hz),
        pre_activity_g=float(np.sqrt(np.mean((lead - 1.0) ** 2))),
        jerk_gps=impact_jerk(buf, peak, hz),
        similar_before=similar_peaks(lead, float(mag[peak])),
        pre_gravity=before,
        rest_end=rest_end,
    )
