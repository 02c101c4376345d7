"""Scripts of daily activities, some with impacts of their own (sitting down hard, a
stumble, a jump, a dropped device): what the fall detector must not call a fall."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import NDArray

from device_sim.motion.body import Body, Truth
from device_sim.motion.kinds import G
from device_sim.motion.postures import SIT_J, STAND_J, lean_direction, sit_down, stand, stand_up
from device_sim.motion.signal import about_x, about_z, random_rotation, smooth_noise


def _adl_stand(b: Body) -> Truth:
    stand(b, 12.0)
    return Truth()


def _adl_walk(b: Body) -> Truth:
    b.walk(12.0, jitter_g=b.uniform(*STAND_J))
    return Truth()


def _adl_sit(hard: bool) -> Callable[[Body], Truth]:
    def script(b: Body) -> Truth:
        stand(b, b.uniform(3.0, 4.0))
        truth = Truth(event_s=sit_down(b, hard=hard))
        b.hold(b.uniform(5.0, 6.0), jitter_g=b.uniform(*SIT_J))
        stand_up(b)
        stand(b, 2.0)
        return truth

    return script


def _adl_lie(fast: bool) -> Callable[[Body], Truth]:
    def script(b: Body) -> Truth:
        stand(b, b.uniform(2.0, 3.0))
        sit_down(b, hard=False)  # on the edge of the bed
        b.hold(b.uniform(1.5, 2.5), jitter_g=b.uniform(*SIT_J))
        d = lean_direction(str(b.rng.choice(["backward", "sideways"])), b.rng)
        lying = b.uniform(75, 95)
        truth = Truth()
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


def _adl_bend(b: Body) -> Truth:
    """Picking something up: a stoop (trunk far forward, little knee bend) or a squat."""
    stand(b, b.uniform(3.0, 4.0))
    if b.rng.random() < 0.5:
        tilt, drop = b.uniform(50, 75), b.uniform(0.05, 0.1)
    else:
        tilt, drop = b.uniform(20, 40), b.uniform(0.25, 0.35)
    j = b.uniform(*STAND_J)
    b.move(b.uniform(1.2, 2.0), jitter_g=j, shift=(0, 0.1, -drop), tilt=(0, tilt), arm=tilt * 0.9)
    b.hold(b.uniform(1.0, 2.5), jitter_g=j * 2)
    b.move(b.uniform(1.2, 2.0), jitter_g=j, shift=(0, -0.1, drop), tilt=(0, 0), arm=0)
    stand(b, 3.0)
    return Truth()


def _adl_stumble(b: Body) -> Truth:
    """A trip caught by a quick recovery step: the body lurches down and forward, a hard heel
    strike stops it, and walking goes on."""
    j = b.uniform(*STAND_J)
    b.walk(b.uniform(3.0, 4.5), jitter_g=j)
    b.pulse(direction=(0.0, -1.0, 0.0), peak_g=b.uniform(0.3, 0.8), dur_s=0.15)
    lurch = b.uniform(15, 35)
    truth = Truth(
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


def _adl_jump(b: Body) -> Truth:
    """A gentle jump (reaching up): crouch, push off, a short flight, land on the feet."""
    stand(b, b.uniform(3.0, 4.0))
    j = b.uniform(*STAND_J)
    reach = b.uniform(90, 140)  # arms swing up while crouching and pushing off
    crouch = -b.uniform(0.1, 0.2)
    b.move(b.uniform(0.5, 0.7), jitter_g=j, shift=(0, 0, crouch), tilt=(0, 15), arm=reach - 20)
    takeoff = b.uniform(1.0, 1.7)
    b.velocity_change(dv_up=takeoff, dur_s=b.uniform(0.25, 0.35), arm=reach)
    b.ballistic(2 * takeoff / G)
    truth = Truth(event_s=b.velocity_change(dv_up=takeoff, dur_s=b.uniform(0.05, 0.12)))
    b.move(b.uniform(0.6, 0.9), jitter_g=j, tilt=(0, 0), arm=0)
    stand(b, 5.0)
    return truth


def _adl_drop_device(b: Body) -> Truth:
    """Worn while standing, then taken off: see drop_device for the drop itself."""
    stand(b, b.uniform(3.0, 4.0))
    return Truth(still_after=True)


def drop_device(b: Body, truth: Truth) -> NDArray[np.float64]:
    """The wearable, once taken off, is held, released from 0.3-1.2 m (a table or the floor),
    falls freely, hits a hard surface within milliseconds, bounces and lies dead still."""
    worn = b.specific_force()
    rng = b.rng
    fs = b.fs
    held = random_rotation(rng, 180)
    hold_n = round(rng.uniform(1.0, 2.0) * fs)
    handling = smooth_noise(rng, (hold_n, 3), fs, tau_s=0.2) * rng.uniform(0.02, 0.05)
    held_force = held.T @ [0.0, 0.0, 1.0] + handling
    # Flat on its back or its face, any heading.
    heading = about_z(np.radians([rng.uniform(0, 360)]))[0]
    face = about_x(np.radians([float(rng.choice([0.0, 180.0])) + rng.uniform(-5, 5)]))[0]
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


ADL_SCRIPTS: Final[dict[str, Callable[[Body], Truth]]] = {
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
}
