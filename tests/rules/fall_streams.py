"""Accelerometer streams for the fall tests: device_sim's recordings cut into motion windows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from device_sim.motion import Kind, Placement, Recording, generate
from rules.types import Motion
from tests.rules.conftest import local

T0 = local(10)


def motion(samples: NDArray[np.float64], hz: float, at: datetime, device: str = "w1") -> Motion:
    return Motion(
        ts=at,
        device_id=device,
        hz=hz,
        ax=tuple(samples[:, 0].tolist()),
        ay=tuple(samples[:, 1].tolist()),
        az=tuple(samples[:, 2].tolist()),
    )


def windows(
    rec: Recording, window_s: float, *, start: datetime = T0, device: str = "w1"
) -> Iterator[Motion]:
    for offset, samples in rec.windows(window_s):
        yield motion(samples, rec.hz, start + timedelta(seconds=offset), device)


def recording(
    kind: Kind, placement: Placement = "waist", hz: float = 50, seed: int = 0
) -> Recording:
    return generate(kind, placement=placement, hz=hz, rng=np.random.default_rng(seed))
