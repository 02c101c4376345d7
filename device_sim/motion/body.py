"""The body's kinematics at the internal rate, from primitives that each start and end at
rest (hold, move, walk, fall, lie, ...), and what a device riding on it measures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from device_sim.motion.kinds import G, Placement
from device_sim.motion.signal import (
    about_x,
    about_z,
    low_pass,
    random_rotation,
    rotations,
    smooth_noise,
)

# Device axes in the segment each placement rides on (columns: device x, y, z). Waist: a belt
# clip with y pointing down (as in SisFall, ay ≈ -1 g upright), z forward. Wrist: a watch on the
# left forearm with x along the forearm toward the hand and z out of the face (lateral).
_WAIST_AXES: Final = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
_WRIST_AXES: Final = np.array([[0.0, 0, -1], [0, -1, 0], [-1, 0, 0]])
_SHOULDER: Final = np.array([-0.18, 0.0, 0.45])  # left shoulder relative to the waist, m
_FOREARM_M: Final = 0.55  # shoulder to wrist with the elbow nearly straight


@dataclass(slots=True)
class Truth:
    event_s: float | None = None
    gets_up_s: float | None = None
    still_after: bool = False


def min_jerk(u: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(u**3 * (10 - 15 * u + 6 * u**2), dtype=np.float64)


def _min_jerk_acc(u: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(60 * u - 180 * u**2 + 120 * u**3, dtype=np.float64)


class Body:
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
        s = min_jerk(u)[:, None]
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
        envelope = min_jerk(envelope)
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
        reach = min_jerk(
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
        arms = self.arm + (to_arm - self.arm) * min_jerk(u)
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
        fade = min_jerk(np.clip(np.minimum(t, t[-1] - t) / 0.5, 0, 1))
        direction = self.rng.normal(size=2)
        tilts = self.tilt + (breath * fade)[:, None] * direction / np.linalg.norm(direction)
        arms = np.full(n, self.arm)
        rolls = np.full(n, self.roll)
        jitter: float | NDArray[np.float64] = self.uniform(0.002, 0.006)
        if moving:
            bouts = fade * self._bouts(n)
            wobble = smooth_noise(self.rng, (n, 2), self.fs, tau_s=0.25, order=3)
            tilts = tilts + np.radians(self.uniform(3, 8)) * wobble * bouts[:, None]
            limb = smooth_noise(self.rng, (n, 2), self.fs, tau_s=0.2, order=3) * bouts[:, None]
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
        trunk = rotations(rotvec)
        if self.placement == "wrist":
            forearm = about_x(arm) @ about_z(roll)
            hand = np.stack([np.zeros_like(arm), np.sin(arm), -np.cos(arm)], 1) * _FOREARM_M
            lever = np.einsum("nij,nj->ni", trunk, _SHOULDER + hand)
            dt = 1 / self.fs
            # Shoulder and elbow are no rigid link: the trunk's jolts reach the wrist smoothed.
            # The arm's own swing and its own contact with the floor (the lever) are not.
            acc = low_pass(acc, self.fs, self.uniform(0.03, 0.06))
            acc = acc + np.gradient(np.gradient(lever, dt, axis=0), dt, axis=0)
            pronation = about_x(np.radians([self.uniform(-60, 60)]))[0]
            mount = _WRIST_AXES @ random_rotation(self.rng, 15) @ pronation
            jitter = jitter * self.uniform(1.2, 1.6)  # a hand is never as still as a pelvis
        else:
            forearm = None
            mount = _WAIST_AXES @ random_rotation(self.rng, 20)
        acc = acc + smooth_noise(self.rng, (len(acc), 3), self.fs, tau_s=0.15) * (
            jitter[:, None] * G
        )
        world = acc / G + np.array([0.0, 0.0, 1.0])
        # device = trunk · forearm · mount, so the device sees mountᵀ · forearmᵀ · trunkᵀ · world.
        local = np.einsum("nji,nj->ni", trunk, world)
        if forearm is not None:
            local = np.einsum("nji,nj->ni", forearm, local)
        return np.asarray(local @ mount, dtype=np.float64)
