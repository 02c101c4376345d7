"""Signal helpers of the motion model: rotations, smooth noise, a low-pass filter, and the
sensor (saturation, averaging down to the output rate, calibration error, quantisation)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from device_sim.motion.kinds import LSB_G, RANGE_G


def about_z(angle: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    out[:, 2, 2] = 1.0
    out[:, 0, 0], out[:, 0, 1] = c, -s
    out[:, 1, 0], out[:, 1, 1] = s, c
    return out


def about_x(angle: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    out[:, 0, 0] = 1.0
    out[:, 1, 1], out[:, 1, 2] = c, -s
    out[:, 2, 1], out[:, 2, 2] = s, c
    return out


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], fs: float, *, tau_s: float, order: int = 1
) -> NDArray[np.float64]:
    """Unit-variance low-pass Gaussian noise: `order` first-order stages of time constant
    `tau_s`. Orientation noise needs order >= 3: the lever arm to the wrist differentiates it
    twice, and anything rougher would turn into spurious impacts."""
    out = rng.normal(size=shape)
    for _ in range(order):
        out = low_pass(out, fs, tau_s)
    return np.asarray(out / max(float(out.std()), 1e-12), dtype=np.float64)


def low_pass(x: NDArray[np.float64], fs: float, tau_s: float) -> NDArray[np.float64]:
    """First-order low-pass (an RC filter) along axis 0, as a causal convolution with its
    exponential impulse response, cut at 10 time constants (< 5e-5 of it lost)."""
    n = len(x)
    taps = min(n, int(np.ceil(10 * tau_s * fs)))
    kernel = np.exp(-np.arange(taps) / (fs * tau_s))
    kernel /= kernel.sum()
    size = 1 << int(np.ceil(np.log2(n + taps)))
    spectrum = np.fft.rfft(x, size, axis=0) * np.fft.rfft(kernel, size).reshape(
        (-1,) + (1,) * (x.ndim - 1)
    )
    return np.asarray(np.fft.irfft(spectrum, size, axis=0)[:n], dtype=np.float64)


def rotations(rotvec: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rotation matrices (n, 3, 3) from rotation vectors (n, 3): Rodrigues' formula."""
    angle = np.linalg.norm(rotvec, axis=1)
    axis = rotvec / np.where(angle > 0, angle, 1.0)[:, None]
    x, y, z = axis.T
    cross = np.zeros((len(rotvec), 3, 3))
    cross[:, 0, 1], cross[:, 0, 2], cross[:, 1, 2] = -z, y, -x
    cross[:, 1, 0], cross[:, 2, 0], cross[:, 2, 1] = z, -y, x
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    outer = axis[:, :, None] * axis[:, None, :]  # cross @ cross == outer - I for a unit axis
    return np.asarray(c * np.eye(3) + s * cross + (1 - c) * outer, dtype=np.float64)


def random_rotation(rng: np.random.Generator, max_deg: float) -> NDArray[np.float64]:
    axis = rng.normal(size=3)
    angle = np.radians(rng.uniform(0, max_deg))
    rotvec = np.asarray(axis / np.linalg.norm(axis) * angle, dtype=np.float64)
    return np.asarray(rotations(rotvec[None, :])[0], dtype=np.float64)


def sensor(
    force: NDArray[np.float64], oversample: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Saturate, average down to the output rate (the sensor's own filter blunts short impacts,
    as in SisFall's 200 → 50 Hz), then calibration error, white noise and quantisation."""
    clipped = np.clip(force, -RANGE_G, RANGE_G)
    n = len(clipped) // oversample
    out = clipped[: n * oversample].reshape(n, oversample, 3).mean(axis=1)
    bias = rng.uniform(-0.02, 0.02, 3)
    scale = rng.uniform(0.98, 1.02, 3)
    noise = rng.normal(size=out.shape) * rng.uniform(0.003, 0.01)
    return np.asarray(np.round((out * scale + bias + noise) / LSB_G) * LSB_G, dtype=np.float64)
