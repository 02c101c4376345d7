"""What the simulator can record: the kinds of motion, the placements, the sensor's range."""

from __future__ import annotations

from typing import Final, Literal, get_args

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
