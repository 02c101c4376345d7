"""The detector settings bench/falls.py may choose between, per placement.

The first of each is what ships (rules.fall_config.FallConfig's placement settings); the others are
tried inside leave-one-subject-out folds. Small grids: each candidate is a full pass over a
placement's recordings.
"""

from __future__ import annotations

from itertools import product

from rules.fall_config import FallConfig, PlacementSettings, detector_config
from rules.fall_placement import Placement

# The grid behind bench/results/falls.json. Rounds before it tried, at the wrist, impact
# 2-3 g x posture 45-60° x a required descent of 0, 0.5 or 1 m/s (the descent cost half the
# falls for its false alarms) and 2-2.5 g x 35-45° x rest 1-1.5 s; at the waist 1.6-2.5 g x
# 40-45° x descent 0-0.5 m/s. A round after it, around the chosen wrist setting (2.5-3 g,
# settle 0.5-1 s, posture before over 1.5 or 3 s), chose the same setting on all subjects
# and did no better held out (0.749 / 0.873): not kept.
GRIDS: dict[str, dict[str, tuple[float, ...]]] = {
    "wrist": {
        "impact_g": (2.0, 2.5, 3.0),
        "orientation_change_deg": (35.0, 45.0),
        "stillness_window_s": (1.0, 1.5),
    },
}
# The impact relative to the activity before it (impact_activity_k), around the setting the
# grid above chose at the wrist.
EXTRA: dict[str, list[dict[str, float]]] = {
    "wrist": [
        {
            "impact_g": g,
            "orientation_change_deg": 35.0,
            "stillness_window_s": 1.0,
            "impact_activity_k": k,
        }
        for g in (1.5, 2.0, 2.5)
        for k in (1.0, 2.0)
    ]
    # How abrupt the impact must be (min_jerk_gps), on the setting the rows above chose: a
    # raised or waved hand reaches its peak smoothly, a collision does not. Looked at first
    # on pooled figures (jerk against the other features, docs/detection.md), then this grid.
    + [
        {
            "impact_g": 1.5,
            "orientation_change_deg": 35.0,
            "stillness_window_s": 1.0,
            "impact_activity_k": 2.0,
            "min_jerk_gps": j,
        }
        for j in (20.0, 30.0, 40.0, 50.0)
    ],
    # At the waist, 1.6-2 g x 35-45° x descent 0-0.3 m/s chose 2 g / 40° on all subjects,
    # but held out did no better than the general settings (0.830 / 0.981 against 0.831 /
    # 0.984): the waist keeps them, and has no grid.
}


def candidates(placement: Placement) -> dict[str, FallConfig | None]:
    """First "general" (today's general settings: a choice may not be less specific), then
    "shipped" (what rules.fall ships for the placement), then the grid."""
    general = FallConfig(placements={})
    out: dict[str, FallConfig | None] = {
        "general": detector_config(general, placement),
        "shipped": detector_config(FallConfig(), placement),
    }
    grid = GRIDS.get(placement, {})
    names = list(grid)
    for values in product(*(grid[n] for n in names)) if names else ():
        settings = PlacementSettings(**dict(zip(names, values, strict=True)))
        config = FallConfig(placements={placement: settings})
        label = ",".join(f"{n}={v:g}" for n, v in zip(names, values, strict=True))
        out[label] = detector_config(config, placement)
    for extra in EXTRA.get(placement, []):
        config = FallConfig(placements={placement: PlacementSettings(**extra)})
        out[",".join(f"{n}={v:g}" for n, v in extra.items())] = detector_config(config, placement)
    return out
