"""Device status: a battery that drains, recharges when low, and an RSSI around -60."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from device_sim.status import FIRMWARE, PowerState, new_power, status_at

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def test_battery_drains_slowly_then_recharges_when_low() -> None:
    rng = np.random.default_rng(0)
    state = PowerState(battery=30.0)
    levels, charging = [], []
    for minute in range(0, 24 * 60, 1):
        state, reading = status_at(state, T0 + timedelta(minutes=minute), "wearable", rng)
        levels.append(reading["battery"])
        charging.append(state.charging)
    assert levels[0] == 30
    assert 27 <= levels[60] <= 29  # about 2.5 % an hour
    assert min(levels) >= 13  # put on the charger at 15 %
    assert any(charging) and max(levels[levels.index(min(levels)) :]) == 100
    assert all(0 <= b <= 100 for b in levels)


def test_status_fields_are_plausible() -> None:
    rng = np.random.default_rng(1)
    state = new_power(rng)
    rssi = []
    for k in range(500):
        state, reading = status_at(state, T0 + timedelta(minutes=k), "bed_sensor", rng)
        assert reading["online"] is True and reading["fw"] == FIRMWARE == "sim-0.1"
        assert type(reading["battery"]) is int and 0 <= reading["battery"] <= 100
        assert type(reading["rssi"]) is int and -90 <= reading["rssi"] <= -35
        rssi.append(reading["rssi"])
    assert -62 <= np.mean(rssi) <= -58
