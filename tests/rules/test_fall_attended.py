"""Staff attending a fall (issue 12, item 2): an acknowledged or resolved fall does not
escalate to a long lie; an action about another fall changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rules.engine import Engine
from rules.fall import FallRuleState, fall_attended, fall_rule_step, fall_rule_tick
from rules.fall_config import FallConfig
from rules.types import AlertCandidate, DeviceEvent, StaffAction, StaffAttended
from tests.rules.conftest import local, profile

T0 = local(10)
CONFIG = FallConfig()
RESIDENT = profile()
KEY = "fall:resident:7"


def attended(at_s: float, action: StaffAction = "resolved", fall: datetime = T0) -> StaffAttended:
    return StaffAttended(T0 + timedelta(seconds=at_s), action, "fall.device", KEY, fall)


def device_fall(state: FallRuleState, at: datetime) -> tuple[FallRuleState, list[AlertCandidate]]:
    return fall_rule_step(
        state, DeviceEvent(at, "w1", "fall"), profile=RESIDENT, now=at, config=CONFIG
    )


def ticks(state: FallRuleState, until_s: float) -> tuple[FallRuleState, list[str]]:
    found: list[str] = []
    for s in range(0, int(until_s) + 1, 10):
        state, out = fall_rule_tick(
            state, profile=RESIDENT, now=T0 + timedelta(seconds=s), config=CONFIG
        )
        found += [c.rule_id for c in out]
    return state, found


@pytest.mark.parametrize("action", ["acknowledged", "resolved"])
def test_an_attended_fall_does_not_escalate_to_a_long_lie(action: StaffAction) -> None:
    state, out = device_fall(FallRuleState(), T0)
    assert [c.rule_id for c in out] == ["fall.device"]
    state = fall_attended(state, attended(60, action), config=CONFIG)
    _, later = ticks(state, 900)
    assert later == []


def test_unattended_it_still_does() -> None:
    state, _ = device_fall(FallRuleState(), T0)
    _, later = ticks(state, 900)
    assert later == ["fall.long_lie"]


def test_an_action_about_an_earlier_fall_leaves_a_new_one_alone() -> None:
    state, _ = device_fall(FallRuleState(), T0)
    earlier = attended(60, fall=T0 - timedelta(minutes=20))
    assert fall_attended(state, earlier, config=CONFIG) is state
    nothing = FallRuleState()
    assert fall_attended(nothing, attended(60), config=CONFIG) is nothing


def test_a_late_report_of_the_attended_fall_does_not_page_but_a_new_fall_does() -> None:
    state, _ = device_fall(FallRuleState(), T0)
    state = fall_attended(state, attended(20), config=CONFIG)
    state, out = device_fall(state, T0 + timedelta(seconds=40))  # the same fall, seen late
    assert out == []
    state, _ = ticks(state, 200)
    _, out = device_fall(state, T0 + timedelta(seconds=600))  # down again
    assert [(c.rule_id, c.action) for c in out] == [("fall.device", "raise")]


def test_the_engine_routes_staff_actions_on_fall_alerts_to_the_fall_rule() -> None:
    engine = Engine()
    rules = engine.set_resident(RESIDENT)
    engine.observe(7, DeviceEvent(T0, "w1", "fall"), now=T0)
    # An action on another of the resident's alerts is not about the fall.
    other = StaffAttended(T0 + timedelta(seconds=30), "resolved", "sos", "sos:resident:7", T0)
    engine.attend(7, other)
    assert rules.fall.incident is not None and not rules.fall.incident.closed
    engine.attend(7, attended(30))
    engine.attend(99, attended(30))  # unknown residents are ignored
    assert rules.fall.incident is not None and rules.fall.incident.closed
    later = engine.tick(now=T0 + timedelta(seconds=400))
    assert [c.rule_id for c in later if c.rule_id.startswith("fall")] == []
