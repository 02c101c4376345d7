from __future__ import annotations

import pytest

from rules.types import DeviceEvent, ResidentProfile
from rules.wandering import WanderingConfig, WanderingState, wandering_step
from tests.rules.conftest import local, profile

CFG = WanderingConfig()
DEMENTIA = profile(conditions=frozenset({"dementia"}))


def exit_at(hour: int, zone: str = "ward-a") -> DeviceEvent:
    return DeviceEvent(local(hour), "w1", "zone_exit", zone=zone)


@pytest.mark.parametrize(
    ("p", "hour", "alerts"),
    [
        (DEMENTIA, 23, 1),
        (DEMENTIA, 6, 1),
        (DEMENTIA, 8, 0),
        (DEMENTIA, 19, 0),
        (DEMENTIA, 20, 1),
        (profile(), 23, 0),
    ],
    ids=["night", "early-morning", "allowed-start", "allowed-end", "after-allowed", "no-dementia"],
)
def test_zone_exit_outside_allowed_hours(p: ResidentProfile, hour: int, alerts: int) -> None:
    assert len(wandering_step(WanderingState(), exit_at(hour), profile=p, config=CFG)[1]) == alerts


def test_return_clears_and_second_zone_updates() -> None:
    state, [raised] = wandering_step(WanderingState(), exit_at(23), profile=DEMENTIA, config=CFG)
    state, [update] = wandering_step(state, exit_at(23, "garden"), profile=DEMENTIA, config=CFG)
    assert (raised.action, update.action) == ("raise", "update")
    back = DeviceEvent(local(23), "w1", "zone_enter", zone="ward-a")
    state, out = wandering_step(state, back, profile=DEMENTIA, config=CFG)
    assert out == []  # still out of the garden
    back = DeviceEvent(local(23), "w1", "zone_enter", zone="garden")
    state, [cleared] = wandering_step(state, back, profile=DEMENTIA, config=CFG)
    assert cleared.action == "clear" and state.open_zones == frozenset()


def test_only_listed_zones_count() -> None:
    cfg = WanderingConfig(zones=frozenset({"exit-door"}))
    assert wandering_step(WanderingState(), exit_at(23), profile=DEMENTIA, config=cfg)[1] == []
    assert wandering_step(WanderingState(), exit_at(23, "exit-door"), profile=DEMENTIA, config=cfg)[
        1
    ]
