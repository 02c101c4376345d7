"""The fall detector settings a benchmark may choose between, per placement.

bench/falls.py picks among these inside leave-one-subject-out folds; the shipped settings
(rules.fall.detector_config) are the first candidate. Pure data: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from rules.fall import FallConfig, detector_config
from rules.fall_placement import Placement

ConfigFor = Callable[[Placement], FallConfig | None]


def candidates() -> dict[str, ConfigFor]:
    base = FallConfig()
    return {"deployed": lambda placement: detector_config(base, placement)}
