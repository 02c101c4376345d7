"""Synthetic waist/wrist accelerometer recordings of falls and daily activities, labelled.

Deterministic: all randomness comes from the numpy Generator passed in; no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final, Literal, get_args

import numpy as np
from numpy.typing import NDArray

Placement = Literal["waist", "wrist"]
Label = Literal["fall", "adl"]
AdlKind = Literal[
    "stand",
    "walk",
    "sit_down",
    "sit_down_hard",
    "lie_down_slow",
    "lie_down_fast",
    "bend",
    "stumble",
    "jump",
    "drop_device",
]
FallKind = Literal[
    "fall_forward",
    "fall_backward",
    "fall_sideways",
    "fall_forward_walking",
    "fall_backward_walking",
    "fall_sideways_walking",
    "fall_from_sitting_forward",
    "fall_from_sitting_backward",
    "fall_from_sitting_sideways",
    "faint_collapse",
    "fall_then_moves",
    "fall_then_gets_up",
]
Kind = AdlKind | FallKind

PLACEMENTS: Final[tuple[Placement, ...]] = get_args(Placement)
ADL_KINDS: Final[tuple[AdlKind, ...]] = get_args(AdlKind)
FALL_KINDS: Final[tuple[FallKind, ...]] = get_args(FallKind)

G: Final = 9.80665  # m/s² per g
RANGE_G: Final = 16.0  # a typical wearable accelerometer's full scale; impacts saturate here
LSB_G: Final = 1 / 256  # 13-bit ±16 g, as on the ADXL345 SisFall used
_INTERNAL_HZ: Final = 500.0  # physics runs here, then the "sensor" averages down to hz

# Device axes in the segment each placement rides on (columns: device x, y, z). Waist: a belt
# clip with y pointing down (as in SisFall, ay ≈ -1 g upright), z forward. Wrist: a watch on the
# left forearm with x along the forearm toward the hand and z out of the face (lateral).
_WAIST_AXES: Final = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
_WRIST_AXES: Final = np.array([[0.0, 0, -1], [0, -1, 0], [-1, 0, 0]])
_SHOULDER: Final = np.array([-0.18, 0.0, 0.45])  # left shoulder relative to the waist, m
_FOREARM_M: Final = 0.55  # shoulder to wrist with the elbow nearly straight


@dataclass(frozen=True, slots=True)
class Recording:
    """One labelled recording: `samples` is (n, 3) in g (device x, y, z) at `hz`.

    `event_s` is the main impact for falls (and for ADLs that have one), seconds from the
    start; `gets_up_s` is when a faller is upright again; `still_after` says whether the person
    (or the dropped device) lies still after the event.
    """

    kind: Kind
    label: Label
    placement: Placement
    hz: float
    samples: NDArray[np.float64]
    event_s: float | None
    gets_up_s: float | None = None
    still_after: bool = False

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.hz

    def magnitude(self) -> NDArray[np.float64]:
        return np.asarray(np.linalg.norm(self.samples, axis=1), dtype=np.float64)

    def windows(self, window_s: float) -> Iterator[tuple[float, NDArray[np.float64]]]:
        """Consecutive windows of about `window_s` as (offset from start in s, samples)."""
        step = max(1, round(window_s * self.hz))
        for start in range(0, len(self.samples), step):
            yield start / self.hz, self.samples[start : start + step]


def label_of(kind: Kind) -> Label:
    return "fall" if kind in FALL_KINDS else "adl"


def generate(kind: Kind, *, placement: Placement, hz: float, rng: np.random.Generator) -> Recording:
    """A recording of `kind` (a few seconds of lead-in, the event, ~8 s after) at `hz`."""
    if kind not in ADL_KINDS and kind not in FALL_KINDS:
        raise ValueError(f"unknown motion kind {kind!r}")
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown placement {placement!r}: expected one of {PLACEMENTS}")
    if not 5.0 <= hz <= 1000.0:
        raise ValueError(f"hz must be within 5..1000, got {hz}")
    oversample = max(1, round(_INTERNAL_HZ / hz))
    body = _Body(hz * oversample, rng, placement)
    truth = _SCRIPTS[kind](body)
    force = _drop_device(body, truth) if kind == "drop_device" else body.specific_force()
    raw = _sensor(force, oversample, rng)
    return Recording(
        kind=kind,
        label=label_of(kind),
        placement=placement,
        hz=hz,
        samples=raw,
        event_s=truth.event_s,
        gets_up_s=truth.gets_up_s,
        still_after=truth.still_after,
    )


# --- the body --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Truth:
    event_s: float | None = None
    gets_up_s: float | None = None
    still_after: bool = False


def _min_jerk(u: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(u**3 * (10 - 15 * u + 6 * u**2), dtype=np.float64)


def _min_jerk_acc(u: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(60 * u - 180 * u**2 + 120 * u**3, dtype=np.float64)


class _Body:
    """Kinematics at the internal rate: waist linear acceleration (world, m/s²), trunk tilt (a
    horizontal rotation vector, rad: the direction the top of the trunk leans toward, x right,
    y forward), forearm elevation (rad, 0 = hanging, + forward) and roll about its long axis
    (rad, 0 = thumb forward when hanging), and the level of small random movements.

    Every primitive starts and ends at rest, so positions stay smooth (C1) and the lever arm to
    the wrist can be differentiated numerically.
    """

    def __init__(self, fs: float, rng: np.random.Generator, placement: Placement) -> None:
        self.fs = fs
        self.rng = rng
        self.placement = placement
        self.tilt = np.zeros(2)
        self.arm = 0.0
        self.roll = float(np.radians(rng.uniform(-20, 20)))
        self._acc: list[NDArray[np.float64]] = []
        self._tilt: list[NDArray[np.float64]] = []
        self._arm: list[NDArray[np.float64]] = []
        self._roll: list[NDArray[np.float64]] = []
        self._jitter: list[NDArray[np.float64]] = []
        self.n = 0

    @property
    def t(self) -> float:
        return self.n / self.fs

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def _count(self, duration_s: float) -> int:
        return max(1, round(duration_s * self.fs))

    def _push(
        self,
        acc: NDArray[np.float64],
        tilt: NDArray[np.float64],
        arm: NDArray[np.float64],
        jitter_g: float | NDArray[np.float64],
        roll: NDArray[np.float64] | None = None,
    ) -> None:
        roll = np.full(len(acc), self.roll) if roll is None else roll
        self._acc.append(acc)
        self._tilt.append(tilt)
        self._arm.append(arm)
        self._roll.append(roll)
        self._jitter.append(np.broadcast_to(jitter_g, (len(acc),)).astype(np.float64))
        self.tilt = tilt[-1].copy()
        self.arm = float(arm[-1])
        self.roll = float(roll[-1])
        self.n += len(acc)

    @staticmethod
    def _to(frm: float, to_deg: float | None, progress: NDArray[np.float64]) -> NDArray[np.float64]:
        to = frm if to_deg is None else float(np.radians(to_deg))
        return np.asarray(frm + (to - frm) * progress, dtype=np.float64)

    def hold(self, duration_s: float, *, jitter_g: float) -> None:
        n = self._count(duration_s)
        self._push(np.zeros((n, 3)), np.tile(self.tilt, (n, 1)), np.full(n, self.arm), jitter_g)

    def move(
        self,
        duration_s: float,
        *,
        jitter_g: float,
        shift: tuple[float, float, float] = (0.0, 0.0, 0.0),
        tilt: tuple[float, float] | None = None,
        arm: float | None = None,
        roll: float | None = None,
    ) -> None:
        """A smooth voluntary movement (minimum jerk) of the waist, trunk and forearm."""
        n = self._count(duration_s)
        u = np.arange(1, n + 1) / n
        s = _min_jerk(u)[:, None]
        acc = _min_jerk_acc(u)[:, None] / duration_s**2 * np.array(shift)
        to_tilt = self.tilt if tilt is None else np.radians(tilt)
        to_arm = self.arm if arm is None else np.radians(arm)
        tilts = self.tilt + (to_tilt - self.tilt) * s
        arms = self.arm + (to_arm - self.arm) * s[:, 0]
        self._push(acc, tilts, arms, jitter_g, self._to(self.roll, roll, s[:, 0]))

    def walk(self, duration_s: float, *, jitter_g: float) -> None:
        """Gait: vertical bounce and fore-aft surge at the step rate, sway at half of it, trunk
        rocking and arm swing; amplitudes for older adults' slower walking up to brisk walking."""
        n = self._count(duration_s)
        t = np.arange(n) / self.fs
        step_hz = self.uniform(1.4, 2.0)
        phase = self.rng.uniform(0, 2 * np.pi, 5)
        ramp = min(0.4, duration_s / 4)
        envelope = np.clip(np.minimum(t, t[-1] - t) / ramp, 0, 1)
        envelope = _min_jerk(envelope)
        w = 2 * np.pi * step_hz
        vertical = self.uniform(0.12, 0.35) * (
            np.sin(w * t + phase[0]) + 0.3 * np.sin(2 * w * t + phase[1])
        )
        surge = self.uniform(0.06, 0.2) * np.sin(w * t + phase[2])
        sway = self.uniform(0.04, 0.12) * np.sin(w / 2 * t + phase[3])
        acc = np.stack([sway, surge, vertical], axis=1) * G * envelope[:, None]
        rock = np.radians(self.uniform(1, 3)) * np.stack(
            [np.sin(w / 2 * t + phase[3]), np.sin(w * t + phase[2])], axis=1
        )
        tilts = self.tilt + rock * envelope[:, None]
        swing = np.radians(self.uniform(8, 30)) * np.sin(w / 2 * t + phase[4])
        arms = self.arm + swing * envelope
        self._push(acc, tilts, arms, jitter_g)

    def fall(
        self,
        *,
        shift: tuple[float, float, float],
        tilt: tuple[float, float],
        impact_mps: float,
        contact_s: float,
        jitter_g: float,
        arm: float | None = None,
        roll: float | None = None,
        power: float = 2.5,
        descent_s: float | None = None,
        reach_s: float = 0.4,
    ) -> float:
        """An uncontrolled descent that speeds up (progress ∝ u**power) until the body hits a
        surface at `impact_mps` and stops within `contact_s` (half-sine deceleration).

        Returns the time of peak deceleration. Trunk tilt follows the same progress, so the
        body rotates as it falls; the forearm gets where it goes within `reach_s` (0.4 s: the
        protective reflex of bracing). `descent_s`, when given, sets the duration instead (then
        `impact_mps` is ignored).
        """
        if descent_s is None:
            path = float(np.linalg.norm(shift))
            descent_s = float(np.clip(power * path / impact_mps, 0.15, 1.6))
        eps = power * contact_s / (2 * descent_s + power * contact_s)
        speed = power * (1 - eps) / descent_s  # progress per second at contact
        n_fall = self._count(descent_s)
        n_stop = self._count(contact_s)
        u = np.arange(1, n_fall + 1) / n_fall
        tau = np.arange(1, n_stop + 1) / self.fs
        s = np.concatenate(
            [
                (1 - eps) * u**power,
                (1 - eps) + speed / 2 * (tau + contact_s / np.pi * np.sin(np.pi * tau / contact_s)),
            ]
        )
        s_acc = np.concatenate(
            [
                (1 - eps) * power * (power - 1) * u ** (power - 2) / descent_s**2,
                -speed * np.pi / (2 * contact_s) * np.sin(np.pi * tau / contact_s),
            ]
        )
        acc = s_acc[:, None] * np.array(shift)
        to_tilt = np.radians(tilt)
        tilts = self.tilt + (to_tilt - self.tilt) * s[:, None]
        to_arm = self.arm if arm is None else np.radians(arm)
        reach = _min_jerk(
            np.clip(np.arange(1, len(s) + 1) / min(n_fall, self._count(reach_s)), 0, 1)
        )
        arms = self.arm + (to_arm - self.arm) * reach
        impact_t = self.t + (n_fall + n_stop / 2) / self.fs
        self._push(acc, tilts, arms, jitter_g, self._to(self.roll, roll, reach))
        return impact_t

    def pulse(self, *, direction: tuple[float, float, float], peak_g: float, dur_s: float) -> None:
        """A jolt with no net velocity change (one sine period), e.g. a foot catching."""
        n = self._count(dur_s)
        u = np.arange(1, n + 1) / n
        acc = (peak_g * G * np.sin(2 * np.pi * u))[:, None] * np.array(direction)
        self._push(acc, np.tile(self.tilt, (n, 1)), np.full(n, self.arm), 0.01)

    def ballistic(self, duration_s: float) -> None:
        """Flight: the waist is in free fall (acceleration -g)."""
        n = self._count(duration_s)
        acc = np.tile([0.0, 0.0, -G], (n, 1))
        self._push(acc, np.tile(self.tilt, (n, 1)), np.full(n, self.arm), 0.0)

    def velocity_change(self, *, dv_up: float, dur_s: float, arm: float | None = None) -> float:
        """Gain (or lose) `dv_up` m/s of upward velocity over `dur_s` (half-sine), e.g. a jump's
        push-off or its landing; returns the time of the peak."""
        n = self._count(dur_s)
        u = np.arange(1, n + 1) / n
        acc = np.zeros((n, 3))
        acc[:, 2] = dv_up * np.pi / (2 * dur_s) * np.sin(np.pi * u)
        to_arm = self.arm if arm is None else np.radians(arm)
        arms = self.arm + (to_arm - self.arm) * _min_jerk(u)
        peak_t = self.t + dur_s / 2
        self._push(acc, np.tile(self.tilt, (n, 1)), arms, 0.01)
        return peak_t

    def lie(self, duration_s: float, *, moving: bool) -> None:
        """On the floor or a bed: breathing rocks the trunk. A person who is not lying still
        moves in bouts (shifting, lifting an arm, trying to push up) with pauses between."""
        n = self._count(duration_s)
        t = np.arange(n) / self.fs
        breath = np.radians(self.uniform(0.3, 1.2)) * np.sin(
            2 * np.pi * self.uniform(0.2, 0.35) * t + self.uniform(0, 2 * np.pi)
        )
        # Fade in and out so the orientation stays smooth where the next movement takes over.
        fade = _min_jerk(np.clip(np.minimum(t, t[-1] - t) / 0.5, 0, 1))
        direction = self.rng.normal(size=2)
        tilts = self.tilt + (breath * fade)[:, None] * direction / np.linalg.norm(direction)
        arms = np.full(n, self.arm)
        rolls = np.full(n, self.roll)
        jitter: float | NDArray[np.float64] = self.uniform(0.002, 0.006)
        if moving:
            bouts = fade * self._bouts(n)
            wobble = _smooth_noise(self.rng, (n, 2), self.fs, tau_s=0.25, order=3)
            tilts = tilts + np.radians(self.uniform(3, 8)) * wobble * bouts[:, None]
            limb = _smooth_noise(self.rng, (n, 2), self.fs, tau_s=0.2, order=3) * bouts[:, None]
            arms = arms + np.radians(self.uniform(5, 20)) * limb[:, 0]
            rolls = rolls + np.radians(self.uniform(10, 40)) * limb[:, 1]
            jitter = jitter + self.uniform(0.03, 0.07) * bouts
        self._push(np.zeros((n, 3)), tilts, arms, jitter, rolls)

    def _bouts(self, n: int) -> NDArray[np.float64]:
        """0..1 envelope: bouts of movement of 0.8-2 s with pauses of 0.8-2.5 s."""
        level = np.zeros(n)
        at, on = 0, bool(self.rng.random() < 0.5)
        while at < n:
            length = self._count(self.uniform(0.8, 2.0) if on else self.uniform(0.8, 2.5))
            level[at : at + length] = float(on)
            at, on = at + length, not on
        # Three passes of a moving average: smooth to the second derivative, which the lever
        # arm to the wrist would otherwise turn into spikes.
        ramp = self._count(0.1)
        for _ in range(3):
            level = np.convolve(level, np.ones(ramp) / ramp, mode="same")
        return np.clip(level, 0.0, 1.0)

    def specific_force(self) -> NDArray[np.float64]:
        """What the accelerometer measures (device frame, g) at the internal rate."""
        acc = np.concatenate(self._acc)
        tilt = np.concatenate(self._tilt)
        arm = np.concatenate(self._arm)
        roll = np.concatenate(self._roll)
        jitter = np.concatenate(self._jitter)
        rotvec = np.stack([-tilt[:, 1], tilt[:, 0], np.zeros(len(tilt))], axis=1)
        trunk = _rotations(rotvec)
        if self.placement == "wrist":
            forearm = _about_x(arm) @ _about_z(roll)
            hand = np.stack([np.zeros_like(arm), np.sin(arm), -np.cos(arm)], 1) * _FOREARM_M
            lever = np.einsum("nij,nj->ni", trunk, _SHOULDER + hand)
            dt = 1 / self.fs
            # Shoulder and elbow are no rigid link: the trunk's jolts reach the wrist smoothed.
            # The arm's own swing and its own contact with the floor (the lever) are not.
            acc = _low_pass(acc, self.fs, self.uniform(0.03, 0.06))
            acc = acc + np.gradient(np.gradient(lever, dt, axis=0), dt, axis=0)
            pronation = _about_x(np.radians([self.uniform(-60, 60)]))[0]
            mount = _WRIST_AXES @ _random_rotation(self.rng, 15) @ pronation
            jitter = jitter * self.uniform(1.2, 1.6)  # a hand is never as still as a pelvis
        else:
            forearm = None
            mount = _WAIST_AXES @ _random_rotation(self.rng, 20)
        acc = acc + _smooth_noise(self.rng, (len(acc), 3), self.fs, tau_s=0.15) * (
            jitter[:, None] * G
        )
        world = acc / G + np.array([0.0, 0.0, 1.0])
        # device = trunk · forearm · mount, so the device sees mountᵀ · forearmᵀ · trunkᵀ · world.
        local = np.einsum("nji,nj->ni", trunk, world)
        if forearm is not None:
            local = np.einsum("nji,nj->ni", forearm, local)
        return np.asarray(local @ mount, dtype=np.float64)


def _about_z(angle: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    out[:, 2, 2] = 1.0
    out[:, 0, 0], out[:, 0, 1] = c, -s
    out[:, 1, 0], out[:, 1, 1] = s, c
    return out


def _about_x(angle: NDArray[np.float64]) -> NDArray[np.float64]:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    out[:, 0, 0] = 1.0
    out[:, 1, 1], out[:, 1, 2] = c, -s
    out[:, 2, 1], out[:, 2, 2] = s, c
    return out


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], fs: float, *, tau_s: float, order: int = 1
) -> NDArray[np.float64]:
    """Unit-variance low-pass Gaussian noise: `order` first-order stages of time constant
    `tau_s`. Orientation noise needs order >= 3: the lever arm to the wrist differentiates it
    twice, and anything rougher would turn into spurious impacts."""
    out = rng.normal(size=shape)
    for _ in range(order):
        out = _low_pass(out, fs, tau_s)
    return np.asarray(out / max(float(out.std()), 1e-12), dtype=np.float64)


def _low_pass(x: NDArray[np.float64], fs: float, tau_s: float) -> NDArray[np.float64]:
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


def _rotations(rotvec: NDArray[np.float64]) -> NDArray[np.float64]:
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


def _random_rotation(rng: np.random.Generator, max_deg: float) -> NDArray[np.float64]:
    axis = rng.normal(size=3)
    angle = np.radians(rng.uniform(0, max_deg))
    rotvec = np.asarray(axis / np.linalg.norm(axis) * angle, dtype=np.float64)
    return np.asarray(_rotations(rotvec[None, :])[0], dtype=np.float64)


def _sensor(
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


# --- the scripts ------------------------------------------------------------------------------
# Rest postures (degrees of trunk tilt; negative y = leaning back). Sitting tilts the pelvis
# back 5-25°; lying is 75-100° from upright whichever way the body ended up.

_STAND_J: Final = (0.008, 0.02)  # g of small random movement while standing
_SIT_J: Final = (0.004, 0.01)


def _direction(name: str, rng: np.random.Generator) -> tuple[float, float]:
    if name == "forward":
        return (0.0, 1.0)
    if name == "backward":
        return (0.0, -1.0)
    return (float(rng.choice([-1.0, 1.0])), 0.0)


def _stand(b: _Body, duration_s: float) -> None:
    """Standing; at the wrist the hands gesture now and then."""
    end = b.t + duration_s
    while end - b.t > 0.05:
        chunk = min(end - b.t, b.uniform(1.0, 3.0))
        if b.placement == "wrist" and chunk > 1.6 and b.rng.random() < 0.5:
            b.move(
                chunk / 2,
                jitter_g=b.uniform(*_STAND_J),
                arm=b.uniform(-5, 30),
                roll=b.uniform(-60, 30),
            )
            b.move(
                chunk / 2,
                jitter_g=b.uniform(*_STAND_J),
                arm=b.uniform(-5, 10),
                roll=b.uniform(-20, 20),
            )
        else:
            b.hold(chunk, jitter_g=b.uniform(*_STAND_J))


def _sit_down(b: _Body, *, hard: bool) -> float | None:
    """From standing to seated (seat ~0.45 m); hard: lowered part way, then dropped."""
    back = b.uniform(5, 25)
    lap = b.uniform(50, 85)  # forearms come to rest on the thighs or armrests
    palm = b.uniform(-100, 0)  # palm down on the thigh .. thumb up on an armrest
    drop = b.uniform(0.35, 0.5)
    j = b.uniform(*_SIT_J)
    if not hard:
        b.move(
            b.uniform(0.5, 0.8),
            jitter_g=j,
            shift=(0, 0.05, -drop / 3),
            tilt=(0, 25),
            arm=lap,
            roll=palm,
        )
        b.move(b.uniform(0.7, 1.0), jitter_g=j, shift=(0, 0.05, -2 * drop / 3), tilt=(0, -back))
        return None
    # Lowered part way with the trunk forward, dropped the rest, then leaning back.
    free = b.uniform(0.15, 0.25)
    b.move(
        b.uniform(0.5, 0.8),
        jitter_g=j,
        shift=(0, 0.05, -(drop - free)),
        tilt=(0, 25),
        arm=lap,
        roll=palm,
    )
    impact = b.fall(
        shift=(0, 0.05, -free),
        tilt=(0, 15),
        impact_mps=b.uniform(0.9, 1.6),
        contact_s=b.uniform(0.06, 0.14),
        jitter_g=j,
        power=b.uniform(1.5, 2.5),
    )
    b.move(b.uniform(0.5, 0.8), jitter_g=j, tilt=(0, -back))
    return impact


def _stand_up(b: _Body) -> None:
    j = b.uniform(*_STAND_J)
    b.move(b.uniform(0.6, 0.9), jitter_g=j, shift=(0, 0.05, 0.15), tilt=(0, 30))
    b.move(
        b.uniform(0.6, 0.9),
        jitter_g=j,
        shift=(0, -0.1, 0.3),
        tilt=(0, 0),
        arm=b.uniform(-5, 10),
        roll=b.uniform(-20, 20),
    )


def _settle_on_floor(b: _Body) -> None:
    """Right after landing the arms come to rest on the floor: along the body or overhead, so
    the forearm lies about flat whichever way the trunk ended up, the palm any way round."""
    arm = b.uniform(160, 200) if b.rng.random() < 0.25 else b.uniform(-20, 20)
    b.move(b.uniform(0.3, 0.6), jitter_g=0.01, arm=arm, roll=b.uniform(-180, 180))


def _after_fall(b: _Body, truth: _Truth, *, moving: bool, seconds: float = 8.0) -> None:
    truth.still_after = not moving
    _settle_on_floor(b)
    b.lie(seconds, moving=moving)


def _fall_from_standing(b: _Body, direction: str, *, walking: bool) -> float:
    d = _direction(direction, b.rng)
    lying = b.uniform(70, 100)
    arm = {"forward": b.uniform(60, 110), "backward": b.uniform(-60, 30)}.get(
        direction, b.uniform(-20, 70)
    )
    if walking:
        b.walk(b.uniform(3.0, 4.5), jitter_g=b.uniform(*_STAND_J))
        if direction == "forward":  # a trip: the foot stops, the body pitches on
            b.pulse(direction=(0.0, -1.0, 0.0), peak_g=b.uniform(0.3, 0.8), dur_s=0.15)
        speed = b.uniform(2.5, 4.0)
    else:
        _stand(b, b.uniform(3.0, 4.5))
        speed = b.uniform(2.0, 3.5)
    horizontal = b.uniform(0.4, 0.7)
    return b.fall(
        shift=(d[0] * horizontal, d[1] * horizontal, -b.uniform(0.75, 0.9)),
        tilt=(d[0] * lying, d[1] * lying),
        impact_mps=speed,
        contact_s=b.uniform(0.06, 0.16),
        jitter_g=0.005,
        arm=arm,
        roll=b.uniform(-90, 0),  # bracing: palms toward the floor
        power=b.uniform(2.0, 3.5),
    )


def _fall_from_sitting(b: _Body, direction: str) -> float:
    _stand(b, b.uniform(1.0, 1.5))
    _sit_down(b, hard=False)
    b.hold(b.uniform(2.5, 3.5), jitter_g=b.uniform(*_SIT_J))
    d = _direction(direction, b.rng)
    lying = b.uniform(70, 100)
    horizontal = b.uniform(0.2, 0.5)
    return b.fall(
        shift=(d[0] * horizontal, d[1] * horizontal, -b.uniform(0.3, 0.4)),
        tilt=(d[0] * lying, d[1] * lying),
        impact_mps=b.uniform(1.5, 2.6),
        contact_s=b.uniform(0.06, 0.16),
        jitter_g=0.005,
        arm=b.uniform(-30, 100),
        power=b.uniform(2.0, 3.0),
    )


def _script_fall(direction: str, *, walking: bool) -> Callable[[_Body], _Truth]:
    def script(b: _Body) -> _Truth:
        truth = _Truth(event_s=_fall_from_standing(b, direction, walking=walking))
        _after_fall(b, truth, moving=False)
        return truth

    return script


def _script_fall_from_sitting(direction: str) -> Callable[[_Body], _Truth]:
    def script(b: _Body) -> _Truth:
        truth = _Truth(event_s=_fall_from_sitting(b, direction))
        _after_fall(b, truth, moving=False)
        return truth

    return script


def _faint_collapse(b: _Body) -> _Truth:
    """Knees buckle (a near-vertical drop onto knees and buttocks), then the trunk topples."""
    if b.rng.random() < 0.5:
        b.walk(b.uniform(3.0, 4.0), jitter_g=b.uniform(*_STAND_J))
    else:
        _stand(b, b.uniform(3.0, 4.0))
    lean = b.rng.normal(size=2)
    lean = lean / np.linalg.norm(lean) * b.uniform(5, 20)
    v1 = b.uniform(1.5, 2.5)
    c1 = b.uniform(0.08, 0.16)
    t1 = b.fall(
        shift=(0.0, 0.05, -b.uniform(0.4, 0.5)),
        tilt=(float(lean[0]), float(lean[1])),
        impact_mps=v1,
        contact_s=c1,
        jitter_g=0.005,
        arm=b.uniform(-10, 30),
    )
    b.hold(b.uniform(0.1, 0.4), jitter_g=0.005)
    d = _direction(str(b.rng.choice(["backward", "sideways"])), b.rng)
    lying = b.uniform(75, 100)
    v2 = b.uniform(1.0, 2.0)
    c2 = b.uniform(0.08, 0.18)
    t2 = b.fall(
        shift=(d[0] * 0.3, d[1] * 0.3, -b.uniform(0.25, 0.35)),
        tilt=(d[0] * lying, d[1] * lying),
        impact_mps=v2,
        contact_s=c2,
        jitter_g=0.005,
        arm=b.uniform(-30, 90),
        power=b.uniform(1.8, 2.5),
    )
    truth = _Truth(event_s=t1 if v1 / c1 >= v2 / c2 else t2)
    _after_fall(b, truth, moving=False)
    return truth


def _fall_then_moves(b: _Body) -> _Truth:
    direction = str(b.rng.choice(["forward", "backward", "sideways"]))
    truth = _Truth(event_s=_fall_from_standing(b, direction, walking=True))
    _after_fall(b, truth, moving=True)
    return truth


def _fall_then_gets_up(b: _Body) -> _Truth:
    direction = str(b.rng.choice(["forward", "backward", "sideways"]))
    truth = _Truth(event_s=_fall_from_standing(b, direction, walking=True))
    _settle_on_floor(b)
    b.lie(b.uniform(5.0, 10.0), moving=bool(b.rng.random() < 0.5))
    # Roll to hands and knees, then up via a half-kneel, as older adults are taught to.
    j = b.uniform(0.03, 0.06)
    b.move(b.uniform(1.5, 2.5), jitter_g=j, shift=(0, 0, 0.3), tilt=(0, 60), arm=80, roll=-90)
    b.move(b.uniform(1.5, 2.5), jitter_g=j, shift=(0, 0.1, 0.55), tilt=(0, 0), arm=0, roll=0)
    truth.gets_up_s = b.t
    _stand(b, b.uniform(1.0, 2.0))
    b.walk(5.0, jitter_g=b.uniform(*_STAND_J))
    return truth


def _adl_stand(b: _Body) -> _Truth:
    _stand(b, 12.0)
    return _Truth()


def _adl_walk(b: _Body) -> _Truth:
    b.walk(12.0, jitter_g=b.uniform(*_STAND_J))
    return _Truth()


def _adl_sit(hard: bool) -> Callable[[_Body], _Truth]:
    def script(b: _Body) -> _Truth:
        _stand(b, b.uniform(3.0, 4.0))
        truth = _Truth(event_s=_sit_down(b, hard=hard))
        b.hold(b.uniform(5.0, 6.0), jitter_g=b.uniform(*_SIT_J))
        _stand_up(b)
        _stand(b, 2.0)
        return truth

    return script


def _adl_lie(fast: bool) -> Callable[[_Body], _Truth]:
    def script(b: _Body) -> _Truth:
        _stand(b, b.uniform(2.0, 3.0))
        _sit_down(b, hard=False)  # on the edge of the bed
        b.hold(b.uniform(1.5, 2.5), jitter_g=b.uniform(*_SIT_J))
        d = _direction(str(b.rng.choice(["backward", "sideways"])), b.rng)
        lying = b.uniform(75, 95)
        truth = _Truth()
        if fast:  # flopping back onto a mattress: a soft, slow stop
            truth.event_s = b.fall(
                shift=(d[0] * 0.1, d[1] * 0.1, -b.uniform(0.0, 0.08)),
                tilt=(d[0] * lying, d[1] * lying),
                impact_mps=0.0,
                descent_s=b.uniform(0.7, 1.0),  # the trunk swings down; the waist barely drops
                contact_s=b.uniform(0.2, 0.35),
                jitter_g=0.005,
                arm=b.uniform(-20, 40),
                roll=b.uniform(-180, 180),
                power=b.uniform(1.3, 2.0),  # let go, or still partly controlled
                reach_s=1.0,  # the arms go along with the body, no bracing
            )
        else:
            b.move(
                b.uniform(2.0, 3.5),
                jitter_g=0.005,
                shift=(d[0] * 0.1, d[1] * 0.1, 0.0),
                tilt=(d[0] * lying, d[1] * lying),
                arm=b.uniform(-20, 40),
                roll=b.uniform(-180, 180),
            )
        b.lie(6.0, moving=False)
        truth.still_after = True
        return truth

    return script


def _adl_bend(b: _Body) -> _Truth:
    """Picking something up: a stoop (trunk far forward, little knee bend) or a squat."""
    _stand(b, b.uniform(3.0, 4.0))
    if b.rng.random() < 0.5:
        tilt, drop = b.uniform(50, 75), b.uniform(0.05, 0.1)
    else:
        tilt, drop = b.uniform(20, 40), b.uniform(0.25, 0.35)
    j = b.uniform(*_STAND_J)
    b.move(b.uniform(1.2, 2.0), jitter_g=j, shift=(0, 0.1, -drop), tilt=(0, tilt), arm=tilt * 0.9)
    b.hold(b.uniform(1.0, 2.5), jitter_g=j * 2)
    b.move(b.uniform(1.2, 2.0), jitter_g=j, shift=(0, -0.1, drop), tilt=(0, 0), arm=0)
    _stand(b, 3.0)
    return _Truth()


def _adl_stumble(b: _Body) -> _Truth:
    """A trip caught by a quick recovery step: the body lurches down and forward, a hard heel
    strike stops it, and walking goes on."""
    j = b.uniform(*_STAND_J)
    b.walk(b.uniform(3.0, 4.5), jitter_g=j)
    b.pulse(direction=(0.0, -1.0, 0.0), peak_g=b.uniform(0.3, 0.8), dur_s=0.15)
    lurch = b.uniform(15, 35)
    truth = _Truth(
        event_s=b.fall(
            shift=(0.0, 0.15, -b.uniform(0.08, 0.15)),
            tilt=(0, lurch),
            impact_mps=b.uniform(1.0, 1.8),
            contact_s=b.uniform(0.04, 0.1),
            jitter_g=j,
            arm=b.uniform(30, 70),
        )
    )
    b.move(b.uniform(0.6, 1.0), jitter_g=j, shift=(0, 0.1, 0.12), tilt=(0, 0), arm=0)
    b.walk(6.0, jitter_g=j)
    return truth


def _adl_jump(b: _Body) -> _Truth:
    """A gentle jump (reaching up): crouch, push off, a short flight, land on the feet."""
    _stand(b, b.uniform(3.0, 4.0))
    j = b.uniform(*_STAND_J)
    reach = b.uniform(90, 140)  # arms swing up while crouching and pushing off
    crouch = -b.uniform(0.1, 0.2)
    b.move(b.uniform(0.5, 0.7), jitter_g=j, shift=(0, 0, crouch), tilt=(0, 15), arm=reach - 20)
    takeoff = b.uniform(1.0, 1.7)
    b.velocity_change(dv_up=takeoff, dur_s=b.uniform(0.25, 0.35), arm=reach)
    b.ballistic(2 * takeoff / G)
    truth = _Truth(event_s=b.velocity_change(dv_up=takeoff, dur_s=b.uniform(0.05, 0.12)))
    b.move(b.uniform(0.6, 0.9), jitter_g=j, tilt=(0, 0), arm=0)
    _stand(b, 5.0)
    return truth


def _adl_drop_device(b: _Body) -> _Truth:
    """Worn while standing, then taken off: see _drop_device for the drop itself."""
    _stand(b, b.uniform(3.0, 4.0))
    return _Truth(still_after=True)


def _drop_device(b: _Body, truth: _Truth) -> NDArray[np.float64]:
    """The wearable, once taken off, is held, released from 0.3-1.2 m (a table or the floor),
    falls freely, hits a hard surface within milliseconds, bounces and lies dead still."""
    worn = b.specific_force()
    rng = b.rng
    fs = b.fs
    held = _random_rotation(rng, 180)
    hold_n = round(rng.uniform(1.0, 2.0) * fs)
    handling = _smooth_noise(rng, (hold_n, 3), fs, tau_s=0.2) * rng.uniform(0.02, 0.05)
    held_force = held.T @ [0.0, 0.0, 1.0] + handling
    # Flat on its back or its face, any heading.
    heading = _about_z(np.radians([rng.uniform(0, 360)]))[0]
    face = _about_x(np.radians([float(rng.choice([0.0, 180.0])) + rng.uniform(-5, 5)]))[0]
    up_in_device = (heading @ face).T @ [0.0, 0.0, 1.0]
    speed = float(np.sqrt(2 * G * rng.uniform(0.3, 1.2)))
    restitution = rng.uniform(0.2, 0.45)
    parts: list[NDArray[np.float64]] = [worn, held_force]
    flight_s = speed / G
    impact_t = (len(worn) + hold_n) / fs + flight_s
    for bounce in range(3):
        parts.append(np.zeros((round(flight_s * fs), 3)))
        contact_s = rng.uniform(0.003, 0.01)
        n = max(1, round(contact_s * fs))
        u = np.arange(1, n + 1) / n
        dv = speed * (1 + restitution)
        decel = dv * np.pi / (2 * contact_s) * np.sin(np.pi * u) / G
        parts.append((decel + 1.0)[:, None] * up_in_device)
        speed *= restitution
        flight_s = 2 * speed / G
        if bounce == 0:
            truth.event_s = impact_t
    parts.append(np.tile(up_in_device, (round(8.0 * fs), 1)))
    return np.concatenate(parts)


_SCRIPTS: Final[dict[str, Callable[[_Body], _Truth]]] = {
    "stand": _adl_stand,
    "walk": _adl_walk,
    "sit_down": _adl_sit(hard=False),
    "sit_down_hard": _adl_sit(hard=True),
    "lie_down_slow": _adl_lie(fast=False),
    "lie_down_fast": _adl_lie(fast=True),
    "bend": _adl_bend,
    "stumble": _adl_stumble,
    "jump": _adl_jump,
    "drop_device": _adl_drop_device,
    "fall_forward": _script_fall("forward", walking=False),
    "fall_backward": _script_fall("backward", walking=False),
    "fall_sideways": _script_fall("sideways", walking=False),
    "fall_forward_walking": _script_fall("forward", walking=True),
    "fall_backward_walking": _script_fall("backward", walking=True),
    "fall_sideways_walking": _script_fall("sideways", walking=True),
    "fall_from_sitting_forward": _script_fall_from_sitting("forward"),
    "fall_from_sitting_backward": _script_fall_from_sitting("backward"),
    "fall_from_sitting_sideways": _script_fall_from_sitting("sideways"),
    "faint_collapse": _faint_collapse,
    "fall_then_moves": _fall_then_moves,
    "fall_then_gets_up": _fall_then_gets_up,
}
