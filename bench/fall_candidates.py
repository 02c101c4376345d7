"""The detector settings bench/falls.py may choose between, per placement.

The first of each is what ships (rules.fall.FallConfig's placement settings); the others are
tried inside leave-one-subject-out folds. Small grids: each candidate is a full pass over a
placement's recordings.
"""

from __future__ import annotations

from itertools import product

from rules.fall import FallConfig, PlacementSettings, detector_config
from rules.fall_placement import Placement

GRIDS: dict[str, dict[str, tuple[float, ...]]] = {
    "wrist": {
        "impact_g": (2.0, 3.0),
        "orientation_change_deg": (45.0, 60.0),
        "min_descent_mps": (0.0, 0.5, 1.0),
    },
    "waist": {
        "impact_g": (1.6, 2.0, 2.5),
        "orientation_change_deg": (40.0, 45.0),
        "min_descent_mps": (0.0, 0.5),
    },
}


def candidates(placement: Placement) -> dict[str, FallConfig | None]:
    base = FallConfig()
    out: dict[str, FallConfig | None] = {"shipped": detector_config(base, placement)}
    grid = GRIDS.get(placement, {})
    names = list(grid)
    for values in product(*(grid[n] for n in names)):
        settings = PlacementSettings(**dict(zip(names, values, strict=True)))
        config = FallConfig(placements={placement: settings})
        label = ",".join(f"{n}={v:g}" for n, v in zip(names, values, strict=True))
        out[label] = detector_config(config, placement)
    return out
