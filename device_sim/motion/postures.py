"""Postures and movements the scripts share: standing, sitting down and up, coming to rest
on the floor.

Rest postures (degrees of trunk tilt; negative y = leaning back). Sitting tilts the pelvis
back 5-25°; lying is 75-100° from upright whichever way the body ended up.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from device_sim.motion.body import Body, Truth

STAND_J: Final = (0.008, 0.02)  # g of small random movement while standing
SIT_J: Final = (0.004, 0.01)


def lean_direction(name: str, rng: np.random.Generator) -> tuple[float, float]:
    if name == "forward":
        return (0.0, 1.0)
    if name == "backward":
        return (0.0, -1.0)
    return (float(rng.choice([-1.0, 1.0])), 0.0)


def stand(b: Body, duration_s: float) -> None:
    """Standing; at the wrist the hands gesture now and then."""
    end = b.t + duration_s
    while end - b.t > 0.05:
        chunk = min(end - b.t, b.uniform(1.0, 3.0))
        if b.placement == "wrist" and chunk > 1.6 and b.rng.random() < 0.5:
            b.move(
                chunk / 2,
                jitter_g=b.uniform(*STAND_J),
                arm=b.uniform(-5, 30),
                roll=b.uniform(-60, 30),
            )
            b.move(
                chunk / 2,
                jitter_g=b.uniform(*STAND_J),
                arm=b.uniform(-5, 10),
                roll=b.uniform(-20, 20),
            )
        else:
            b.hold(chunk, jitter_g=b.uniform(*STAND_J))


def sit_down(b: Body, *, hard: bool) -> float | None:
    """From standing to seated (seat ~0.45 m); hard: lowered part way, then dropped."""
    back = b.uniform(5, 25)
    lap = b.uniform(50, 85)  # forearms come to rest on the thighs or armrests
    palm = b.uniform(-100, 0)  # palm down on the thigh .. thumb up on an armrest
    drop = b.uniform(0.35, 0.5)
    j = b.uniform(*SIT_J)
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


def stand_up(b: Body) -> None:
    j = b.uniform(*STAND_J)
    b.move(b.uniform(0.6, 0.9), jitter_g=j, shift=(0, 0.05, 0.15), tilt=(0, 30))
    b.move(
        b.uniform(0.6, 0.9),
        jitter_g=j,
        shift=(0, -0.1, 0.3),
        tilt=(0, 0),
        arm=b.uniform(-5, 10),
        roll=b.uniform(-20, 20),
    )


def settle_on_floor(b: Body) -> None:
    """Right after landing the arms come to rest on the floor: along the body or overhead, so
    the forearm lies about flat whichever way the trunk ended up, the palm any way round."""
    arm = b.uniform(160, 200) if b.rng.random() < 0.25 else b.uniform(-20, 20)
    b.move(b.uniform(0.3, 0.6), jitter_g=0.01, arm=arm, roll=b.uniform(-180, 180))


def after_fall(b: Body, truth: Truth, *, moving: bool, seconds: float = 8.0) -> None:
    truth.still_after = not moving
    settle_on_floor(b)
    b.lie(seconds, moving=moving)
