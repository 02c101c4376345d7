"""Where a device is worn, and what the fall detector may conclude from its motion there.

Placement is a fact of the device (provisioning, or its status message), never guessed from
the signal. A placement without evidence behind it (a bed sensor) gets no motion detector:
the rule declines rather than claim falls it was never shown to find.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Placement = Literal["wrist", "waist", "chest", "pendant", "bed"]
PLACEMENTS: Final[tuple[Placement, ...]] = get_args(Placement)

# Worn on the body, so motion windows say something about falls.
WORN: Final[frozenset[Placement]] = frozenset({"wrist", "waist", "chest", "pendant"})


def parse_placement(value: str) -> Placement:
    """A placement name, or ValueError naming the ones that exist."""
    for placement in PLACEMENTS:
        if value == placement:
            return placement
    raise ValueError(f"unknown placement {value!r}: expected one of {', '.join(PLACEMENTS)}")
