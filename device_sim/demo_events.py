"""Events a demo user can ask for (`carewatch demo event KIND`), as scripts the live ward plays
on one resident's devices (pure: what the devices send, not how the request arrives).

Each script holds the data the rules need to page, with margin: values past the rule's limit
for longer than its persistence, an on-device event where the rule pages on one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from device_sim.motion import FallKind
from rules.vocabulary import DeviceEventType


@dataclass(frozen=True, slots=True)
class DemoScript:
    """What one event does to a resident's devices, from the moment it is injected."""

    duration_s: float  # how long the changed readings last
    vitals: dict[str, float] = field(default_factory=dict)  # the wearable reads these instead
    bed_out: bool = False  # the bed sensor reads the bed empty
    silent: bool = False  # the wearable sends nothing at all (not even status)
    wearable_event: DeviceEventType | None = None  # sent once, at the start
    bed_event: DeviceEventType | None = None
    confidence: float | None = None  # of an on-device fall detection
    fall_motion: FallKind | None = None  # the accelerometer windows of a fall, at the start
    expect: str = ""  # when the page should come, for the person who asked


# Values are chosen past the default limits (rules/vitals_config.py, rules/baseline_config.py,
# rules/news2.py) so that a site's defaults page; persistence there is at most 60 s (SpO2 15 s).
SCRIPTS: Final[dict[str, DemoScript]] = {
    "fall": DemoScript(
        duration_s=60.0,
        wearable_event="fall",
        confidence=0.93,
        fall_motion="fall_forward_walking",
        expect="fall: paged at once (the wearable reports the fall itself)",
    ),
    "sos": DemoScript(
        duration_s=0.0,
        wearable_event="sos",
        expect="sos: paged at once",
    ),
    "hypoxia": DemoScript(
        duration_s=600.0,
        vitals={"spo2": 84, "hr": 108, "rr": 24},
        expect="hypoxia: SpO2 84 % for 10 minutes, paged after 15 s of it",
    ),
    "fever": DemoScript(
        duration_s=1800.0,
        vitals={"temp": 38.7, "hr": 104, "rr": 22},
        expect="fever: 38.7 °C for 30 minutes, paged at the first reading",
    ),
    "bed-exit": DemoScript(
        duration_s=1200.0,
        bed_out=True,
        bed_event="bed_exit",
        expect=(
            "bed-exit: out of bed for 20 minutes; pages only at night, for a resident with "
            "fall risk, once not back within the rule's time (15 minutes by default)"
        ),
    ),
    "news2-deterioration": DemoScript(
        duration_s=1800.0,
        vitals={"rr": 27, "spo2": 91, "hr": 118, "temp": 38.4, "sbp": 96, "dbp": 58},
        expect="news2-deterioration: NEWS2 about 12 for 30 minutes, paged at the first score",
    ),
    "device-offline": DemoScript(
        duration_s=900.0,
        silent=True,
        expect=(
            "device-offline: the wearable falls silent for 15 minutes; paged after 5 minutes "
            "of silence"
        ),
    ),
}
KINDS: Final = tuple(SCRIPTS)


class DemoEventError(ValueError):
    """A request the running simulator cannot play (unknown kind or resident)."""


def script_for(kind: str) -> DemoScript:
    try:
        return SCRIPTS[kind]
    except KeyError:
        raise DemoEventError(f"unknown event {kind!r}: one of {', '.join(KINDS)}") from None


@dataclass(frozen=True, slots=True)
class Playing:
    """A script running on one resident since `start_s` (simulated seconds from the start)."""

    kind: str
    script: DemoScript
    start_s: float

    def active(self, offset_s: float) -> bool:
        return self.start_s <= offset_s < self.start_s + self.script.duration_s


def overlay(playing: list[Playing], offset_s: float) -> tuple[dict[str, float], bool, bool]:
    """What the resident's active scripts change at `offset_s`: vital values (the latest
    script wins), bed empty, wearable silent."""
    vitals: dict[str, float] = {}
    bed_out = silent = False
    for p in playing:
        if p.active(offset_s):
            vitals.update(p.script.vitals)
            bed_out = bed_out or p.script.bed_out
            silent = silent or p.script.silent
    return vitals, bed_out, silent
