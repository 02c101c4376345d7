from __future__ import annotations

import pickle
from dataclasses import replace

import pytest
from pydantic import ValidationError

from rules.devices import DeviceRulesConfig, DeviceState, device_step, device_tick
from rules.types import AlertCandidate, DeviceEvent, DeviceStatus, Vital
from tests.rules.conftest import later, local, profile

CFG = DeviceRulesConfig()
P = profile()
T0 = local(10)


def seen(state: DeviceState, obs: object) -> tuple[DeviceState, list[AlertCandidate]]:
    return device_step(state, obs, profile=P, config=CFG)  # type: ignore[arg-type]


def tick(state: DeviceState, minutes: float) -> tuple[DeviceState, list[AlertCandidate]]:
    return device_tick(state, profile=P, now=later(T0, minutes=minutes), config=CFG)


def vital(minutes: float) -> Vital:
    return Vital(later(T0, minutes=minutes), "hr", 70, "vitals", "w1")


def test_last_will_raises_offline_after_the_grace_and_suppresses_vitals() -> None:
    state, out = seen(DeviceState("w1"), vital(0))
    assert out == [] and not state.vitals_suppressed
    will = DeviceStatus(later(T0, minutes=1), "w1", online=False)
    state, out = seen(state, will)
    assert out == []  # a broker restart publishes wills of devices back within seconds
    state, out = tick(state, 1 + 119 / 60)
    assert out == []
    state, [alert] = tick(state, 1 + 120 / 60)
    assert (alert.rule_id, alert.action, alert.values["cause"]) == (
        "device.offline",
        "raise",
        "last_will",
    )
    assert alert.ts == will.ts  # the will's time: a replay raises the same candidate
    assert "paused" in str(alert.values["note"])
    assert state.vitals_suppressed
    assert tick(state, 10)[1] == []  # raised once
    state, out = seen(state, vital(11))
    assert out == [] and not state.vitals_suppressed  # back: its readings count again
    assert tick(state, 11 + 4.9)[1] == []  # but the episode ends only once it stays back
    state, [back] = tick(state, 11 + 5)
    assert back.action == "clear" and back.ts == vital(11).ts
    assert not state.offline_open and tick(state, 16)[1] == []


def test_a_flapping_device_is_one_offline_episode_until_it_stays_back() -> None:
    no_grace = CFG.model_copy(update={"offline_grace_s": 0})
    state, _ = seen(DeviceState("w1"), vital(0))
    got: list[tuple[str, str]] = []
    for minute in (1, 3, 5, 7, 9):  # offline a minute, back a minute, five times
        for found in flap_steps(state, minute, no_grace):
            state, out = found
            got += [(a.rule_id, a.action) for a in out]
    assert got == [("device.offline", "raise")]
    assert state.offline_open and state.back_at == vital(10).ts
    state, out = device_tick(state, profile=P, now=later(T0, minutes=15), config=no_grace)
    assert [(a.action, a.ts) for a in out] == [("clear", vital(10).ts)]


def flap_steps(
    state: DeviceState, minute: float, config: DeviceRulesConfig
) -> list[tuple[DeviceState, list[AlertCandidate]]]:
    """Offline at `minute` (a will), back a minute later, each followed by a tick."""
    steps = []
    for obs in (
        DeviceStatus(later(T0, minutes=minute), "w1", online=False),
        vital(minute + 1),
    ):
        state, found = device_step(state, obs, profile=P, config=config)
        steps.append((state, found))
        state, found = device_tick(state, profile=P, now=later(obs.ts, seconds=1), config=config)
        steps.append((state, found))
    return steps


def test_a_device_silent_again_while_damped_stays_offline() -> None:
    state, _ = seen(DeviceState("w1"), vital(0))
    state, [raised] = tick(state, 6)  # silent
    state, out = seen(state, vital(7))
    assert out == [] and state.back_at is not None
    state, out = tick(state, 7 + 5.5)  # silent again before the damping ran out
    assert out == [] and state.back_at is None and state.vitals_suppressed
    state, _ = seen(state, vital(13))
    state, [cleared] = tick(state, 18)
    assert (raised.action, cleared.action) == ("raise", "clear")


def test_without_damping_back_online_clears_at_once() -> None:
    undamped = CFG.model_copy(update={"offline_grace_s": 0, "flap_damping_s": 0})
    state, _ = seen(DeviceState("w1"), vital(0))
    state, [_] = device_step(
        state, DeviceStatus(later(T0, minutes=1), "w1", online=False), profile=P, config=undamped
    )
    state, [back] = device_step(state, vital(2), profile=P, config=undamped)
    assert back.action == "clear" and not state.offline_open


def test_a_device_back_within_the_grace_pages_nobody() -> None:
    state, _ = seen(DeviceState("w1"), vital(0))
    state, _ = seen(state, DeviceStatus(later(T0, minutes=1), "w1", online=False))
    state, out = seen(state, DeviceStatus(later(T0, minutes=1.1), "w1", online=False))
    assert out == []  # the will again (a reconnect re-sends it): still one pending
    # Its next reading after the will, even stamped a little earlier by its own clock.
    state, out = seen(state, vital(0.99))
    assert out == [] and state.will_at is None
    assert tick(state, 3)[1] == []  # past the grace, before the silence rule's 5 minutes


def test_without_a_grace_the_will_pages_at_once() -> None:
    state, _ = seen(DeviceState("w1"), vital(0))
    at_once = CFG.model_copy(update={"offline_grace_s": 0})
    state, [alert] = device_step(
        state, DeviceStatus(later(T0, minutes=1), "w1", online=False), profile=P, config=at_once
    )
    assert alert.action == "raise" and state.vitals_suppressed


def test_snapshots_from_before_the_grace_load_with_no_will_pending() -> None:
    state, _ = seen(DeviceState("w1"), vital(0))
    old_shape = pickle.dumps(state)
    # A snapshot pickled before `will_at` existed holds one value fewer.
    legacy = DeviceState.__new__(DeviceState)
    values = state.__getstate__()  # a slotted dataclass's: its field values, in order
    assert isinstance(values, list)
    legacy.__setstate__(values[:-1])
    assert legacy == state and legacy.will_at is None
    assert pickle.loads(old_shape) == state


@pytest.mark.parametrize(
    ("silent_min", "alerts"), [(4.9, 0), (5.1, 1)], ids=["within-5-min", "beyond-5-min"]
)
def test_silence_beyond_expectation_is_offline(silent_min: float, alerts: int) -> None:
    state, _ = seen(DeviceState("w1"), vital(0))
    state, out = tick(state, silent_min)
    assert len(out) == alerts
    if alerts:
        assert out[0].values["cause"] == "silence" and state.vitals_suppressed
        assert tick(state, silent_min + 10)[1] == []  # raised once, not every tick


def test_never_seen_device_is_not_called_silent() -> None:
    assert tick(DeviceState("w1"), 60)[1] == []


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([50, 21], []),
        ([50, 20], [("raise", "low")]),
        ([50, 19, 10], [("raise", "low")]),
        ([50, 15, 5], [("raise", "low"), ("update", "medium")]),
        ([50, 15, 25], [("raise", "low")]),  # hysteresis: 25 % is not charged
        ([50, 15, 30], [("raise", "low"), ("clear", "low")]),
        ([50, 4, 10, 31], [("raise", "medium"), ("clear", "medium")]),
    ],
    ids=[
        "above-low",
        "at-low",
        "stays-low",
        "then-critical",
        "no-flap",
        "charged",
        "critical-stays-until-charged",
    ],
)
def test_battery_levels(levels: list[float], expected: list[tuple[str, str]]) -> None:
    state, got = DeviceState("w1"), []
    for i, level in enumerate(levels):
        state, out = seen(state, DeviceStatus(later(T0, minutes=i), "w1", battery=level))
        got += [(a.action, a.severity) for a in out if a.rule_id == "device.battery_low"]
    assert got == expected


def heartbeat(state: DeviceState, minutes: float) -> DeviceState:
    """A status message: an off-wrist wearable still reports in."""
    state, out = seen(state, DeviceStatus(later(T0, minutes=minutes), "w1", online=True))
    assert out == []
    return state


def test_wearable_off_suppresses_at_once_and_alerts_after_grace() -> None:
    state, out = seen(DeviceState("w1"), DeviceEvent(T0, "w1", "wear_off"))
    assert out == [] and state.vitals_suppressed
    state = heartbeat(state, 14)
    assert tick(state, 14.9)[1] == []
    state, [alert] = tick(state, 15)
    assert (alert.rule_id, alert.action) == ("device.wear_off", "raise")
    state, [cleared] = seen(state, DeviceEvent(later(T0, minutes=16), "w1", "wear_on"))
    assert cleared.action == "clear" and not state.vitals_suppressed


def test_wearable_back_on_within_grace_is_quiet() -> None:
    state, _ = seen(DeviceState("w1"), DeviceEvent(T0, "w1", "wear_off"))
    state, out = seen(state, DeviceEvent(later(T0, minutes=5), "w1", "wear_on"))
    assert out == []
    state = heartbeat(state, 29)
    assert tick(state, 30)[1] == []


def test_a_silent_wearable_off_the_wrist_is_also_offline() -> None:
    state, _ = seen(DeviceState("w1"), DeviceEvent(T0, "w1", "wear_off"))
    alerts = {a.rule_id for a in tick(state, 20)[1]}
    assert alerts == {"device.offline", "device.wear_off"}


def test_dedupe_key_names_the_device() -> None:
    state = replace(DeviceState("w9"), last_seen=T0)
    [alert] = device_tick(state, profile=P, now=later(T0, hours=1), config=CFG)[1]
    assert alert.dedupe_key == "device.offline:w9" and alert.subject == "resident:7"


def test_config_rejects_unordered_battery_levels() -> None:
    with pytest.raises(ValidationError, match="battery_critical <= battery_low"):
        DeviceRulesConfig(battery_low=10, battery_critical=20)
