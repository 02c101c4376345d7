"""Synthetic waist/wrist accelerometer recordings of falls and daily activities, labelled.

Deterministic: all randomness comes from the numpy Generator passed in; no I/O, no clock.
The kinds (kinds.py); a recording and how one is made (recording.py): a script (falls.py,
activities.py, with the shared postures.py) moves the body (body.py), whose specific force
the sensor model reads (signal.py).
"""

from device_sim.motion.kinds import (
    ADL_KINDS,
    FALL_KINDS,
    LSB_G,
    PLACEMENTS,
    RANGE_G,
    AdlKind,
    FallKind,
    G,
    Kind,
    Label,
    Placement,
)
from device_sim.motion.recording import Recording, generate, label_of

__all__ = [
    "ADL_KINDS",
    "FALL_KINDS",
    "LSB_G",
    "PLACEMENTS",
    "RANGE_G",
    "AdlKind",
    "FallKind",
    "G",
    "Kind",
    "Label",
    "Placement",
    "Recording",
    "generate",
    "label_of",
]
