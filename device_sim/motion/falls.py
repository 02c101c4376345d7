"""Scripts of falls: from standing, walking or sitting, a faint, and what comes after
(lying still, moving on the floor, getting up)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np

from device_sim.motion.body import Body, Truth
from device_sim.motion.postures import (
    SIT_J,
    STAND_J,
    after_fall,
    lean_direction,
    settle_on_floor,
    sit_down,
    stand,
)


def _fall_from_standing(b: Body, direction: str, *, walking: bool) -> float:
    d = lean_direction(direction, b.rng)
    lying = b.uniform(70, 100)
    arm = {"forward": b.uniform(60, 110), "backward": b.uniform(-60, 30)}.get(
        direction, b.uniform(-20, 70)
    )
    if walking:
        b.walk(b.uniform(3.0, 4.5), jitter_g=b.uniform(*STAND_J))
        if direction == "forward":  # a trip: the foot stops, the body pitches on
            b.pulse(direction=(0.0, -1.0, 0.0), peak_g=b.uniform(0.3, 0.8), dur_s=0.15)
        speed = b.uniform(2.5, 4.0)
    else:
        stand(b, b.uniform(3.0, 4.5))
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


def _fall_from_sitting(b: Body, direction: str) -> float:
    stand(b, b.uniform(1.0, 1.5))
    sit_down(b, hard=False)
    b.hold(b.uniform(2.5, 3.5), jitter_g=b.uniform(*SIT_J))
    d = lean_direction(direction, b.rng)
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


def _script_fall(direction: str, *, walking: bool) -> Callable[[Body], Truth]:
    def script(b: Body) -> Truth:
        truth = Truth(event_s=_fall_from_standing(b, direction, walking=walking))
        after_fall(b, truth, moving=False)
        return truth

    return script


def _script_fall_from_sitting(direction: str) -> Callable[[Body], Truth]:
    def script(b: Body) -> Truth:
        truth = Truth(event_s=_fall_from_sitting(b, direction))
        after_fall(b, truth, moving=False)
        return truth

    return script


def _faint_collapse(b: Body) -> Truth:
    """Knees buckle (a near-vertical drop onto knees and buttocks), then the trunk topples."""
    if b.rng.random() < 0.5:
        b.walk(b.uniform(3.0, 4.0), jitter_g=b.uniform(*STAND_J))
    else:
        stand(b, b.uniform(3.0, 4.0))
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
    d = lean_direction(str(b.rng.choice(["backward", "sideways"])), b.rng)
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
    truth = Truth(event_s=t1 if v1 / c1 >= v2 / c2 else t2)
    after_fall(b, truth, moving=False)
    return truth


def _fall_then_moves(b: Body) -> Truth:
    direction = str(b.rng.choice(["forward", "backward", "sideways"]))
    truth = Truth(event_s=_fall_from_standing(b, direction, walking=True))
    after_fall(b, truth, moving=True)
    return truth


def _fall_then_gets_up(b: Body) -> Truth:
    direction = str(b.rng.choice(["forward", "backward", "sideways"]))
    truth = Truth(event_s=_fall_from_standing(b, direction, walking=True))
    settle_on_floor(b)
    b.lie(b.uniform(5.0, 10.0), moving=bool(b.rng.random() < 0.5))
    # Roll to hands and knees, then up via a half-kneel, as older adults are taught to.
    j = b.uniform(0.03, 0.06)
    b.move(b.uniform(1.5, 2.5), jitter_g=j, shift=(0, 0, 0.3), tilt=(0, 60), arm=80, roll=-90)
    b.move(b.uniform(1.5, 2.5), jitter_g=j, shift=(0, 0.1, 0.55), tilt=(0, 0), arm=0, roll=0)
    truth.gets_up_s = b.t
    stand(b, b.uniform(1.0, 2.0))
    b.walk(5.0, jitter_g=b.uniform(*STAND_J))
    return truth


FALL_SCRIPTS: Final[dict[str, Callable[[Body], Truth]]] = {
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
