"""Pure device housekeeping for `status` messages: a battery that drains and recharges, RSSI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypedDict

import numpy as np

from device_sim.devices import DeviceKind

FIRMWARE: Final = "sim-0.1"

# Percent per hour: a wearable lasts about a day and a half, a bed sensor several days.
_DRAIN_PER_H: Final[dict[DeviceKind, float]] = {"wearable": 2.5, "bed_sensor": 0.8}
_CHARGE_PER_H: Final = 40.0
_RECHARGE_BELOW: Final = 15.0  # a caregiver puts it on the charger about here
_RSSI_MEAN: Final = -60.0
_RSSI_SD: Final = 4.0
_RSSI_RANGE: Final = (-90.0, -35.0)


class StatusReading(TypedDict):
    battery: int
    online: bool
    rssi: int
    fw: str


@dataclass(frozen=True, slots=True)
class PowerState:
    battery: float  # percent
    charging: bool = False
    t: datetime | None = None


def new_power(rng: np.random.Generator) -> PowerState:
    return PowerState(battery=float(rng.uniform(50.0, 100.0)))


def status_at(
    state: PowerState, t: datetime, kind: DeviceKind, rng: np.random.Generator
) -> tuple[PowerState, StatusReading]:
    """Advance the battery to `t` (timezone-aware, not before `state.t`) and read the status."""
    if t.utcoffset() is None:
        raise ValueError("t must be timezone-aware")
    if state.t is not None and t < state.t:
        raise ValueError(f"time went backwards: {t.isoformat()} < {state.t.isoformat()}")
    hours = 0.0 if state.t is None else (t - state.t).total_seconds() / 3600
    battery, charging = state.battery, state.charging
    if charging:
        battery = min(100.0, battery + _CHARGE_PER_H * hours)
        charging = battery < 100.0
    else:
        battery = max(0.0, battery - _DRAIN_PER_H[kind] * hours)
        charging = battery <= _RECHARGE_BELOW
    rssi = float(np.clip(rng.normal(_RSSI_MEAN, _RSSI_SD), *_RSSI_RANGE))
    reading: StatusReading = {
        "battery": round(battery),
        "online": True,
        "rssi": round(rssi),
        "fw": FIRMWARE,
    }
    return PowerState(battery=battery, charging=charging, t=t), reading
