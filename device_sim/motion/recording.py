"""A labelled recording and how one is generated: a script moves the body, the sensor
model reads it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from device_sim.motion.activities import ADL_SCRIPTS, drop_device
from device_sim.motion.body import Body
from device_sim.motion.falls import FALL_SCRIPTS
from device_sim.motion.kinds import ADL_KINDS, FALL_KINDS, PLACEMENTS, Kind, Label, Placement
from device_sim.motion.signal import sensor

INTERNAL_HZ: Final = 500.0  # physics runs here, then the "sensor" averages down to hz

SCRIPTS: Final = {**ADL_SCRIPTS, **FALL_SCRIPTS}


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
    oversample = max(1, round(INTERNAL_HZ / hz))
    body = Body(hz * oversample, rng, placement)
    truth = SCRIPTS[kind](body)
    force = drop_device(body, truth) if kind == "drop_device" else body.specific_force()
    raw = sensor(force, oversample, rng)
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
