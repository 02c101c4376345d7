from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from rules.bed import BedRulesConfig, BedState, bed_step, bed_tick, note_activity, note_motion
from rules.types import AlertCandidate, DeviceEvent, ResidentProfile, Vital
from tests.rules.conftest import later, local, profile

CFG = BedRulesConfig()
RISKY = profile(fall_risk=True)


def occupied(t: datetime, value: float) -> Vital:
    return Vital(t, "occupied", value, "bed", "b1")


# (minute offset, occupancy 0.0/1.0 or a device event)
Step = tuple[int, float | DeviceEvent]


def run(
    p: ResidentProfile, steps: Sequence[Step], until_min: int, start: datetime | None = None
) -> list[tuple[str, str]]:
    """Feed observations at minute offsets from `start`, ticking every minute."""
    t0 = start or local(2)
    state = BedState()
    got: list[AlertCandidate] = []
    events = dict(steps)
    for minute in range(until_min + 1):
        now = later(t0, minutes=minute)
        if minute in events:
            step = events[minute]
            obs = occupied(now, step) if isinstance(step, float) else step
            state, out = bed_step(state, obs, profile=p, config=CFG)
            got += out
        state, out = bed_tick(state, profile=p, now=now, config=CFG)
        got += out
    return [(a.rule_id, a.action) for a in got]


def test_night_exit_without_return_raises_after_15_min() -> None:
    assert run(RISKY, [(0, 1.0), (1, 0.0)], 15) == []
    assert run(RISKY, [(0, 1.0), (1, 0.0)], 16) == [("bed.exit_night", "raise")]


def test_return_clears_and_return_in_time_is_quiet() -> None:
    assert run(RISKY, [(0, 1.0), (1, 0.0), (30, 1.0)], 31) == [
        ("bed.exit_night", "raise"),
        ("bed.exit_night", "clear"),
    ]
    assert run(RISKY, [(0, 1.0), (1, 0.0), (10, 1.0)], 60) == []


@pytest.mark.parametrize(
    ("p", "start", "alerts"),
    [
        (profile(fall_risk=False), local(2), 0),
        (RISKY, local(14), 0),
        (RISKY, local(21, 58), 0),  # left at 21:59, before the night began
        (RISKY, local(22, 0), 1),
    ],
    ids=["not-fall-risk", "daytime", "before-night", "night"],
)
def test_who_and_when(p: ResidentProfile, start: datetime, alerts: int) -> None:
    got = run(p, [(0, 1.0), (1, 0.0)], 20, start=start)
    assert len([g for g in got if g[0] == "bed.exit_night"]) == alerts


def test_device_events_count_like_occupancy() -> None:
    t0 = local(2)
    steps: list[Step] = [
        (0, DeviceEvent(t0, "b1", "bed_enter")),
        (1, DeviceEvent(later(t0, minutes=1), "b1", "bed_exit")),
    ]
    assert run(RISKY, steps, 20) == [("bed.exit_night", "raise")]


def test_daytime_inactivity_after_three_hours() -> None:
    p = profile()
    state, _ = note_activity(BedState(), local(9), profile=p, config=CFG)
    for minute in range(0, 180, 2):  # the wearable streams motion, all of it still
        state = note_motion(state, later(local(9), minutes=minute), config=CFG)
    assert bed_tick(state, profile=p, now=local(11, 59), config=CFG)[1] == []
    state, [alert] = bed_tick(state, profile=p, now=local(12), config=CFG)
    assert (alert.rule_id, alert.action) == ("inactivity", "raise")
    assert bed_tick(state, profile=p, now=local(13), config=CFG)[1] == []
    moved = Vital(local(13, 5), "movement", 0.5, "bed", "b1")
    state, [cleared] = bed_step(state, moved, profile=p, config=CFG)
    assert cleared.action == "clear" and state.last_activity == local(13, 5)


def test_no_motion_stream_no_inactivity_alert() -> None:
    """Without motion windows arriving, stillness cannot be told from a device that only
    sends events (or has died): that is the device rules' business, not this one's."""
    p = profile()
    state, _ = note_activity(BedState(), local(9), profile=p, config=CFG)
    assert bed_tick(state, profile=p, now=local(13), config=CFG)[1] == []
    state = note_motion(state, local(9, 30), config=CFG)  # the stream stopped at 09:30
    assert bed_tick(state, profile=p, now=local(13), config=CFG)[1] == []
    # Sparse windows (an event-driven device) are not a stream: a still one at 12:59 after
    # nothing since 09:30 proves nothing about the hours between.
    state = note_motion(state, local(12, 59), config=CFG)
    assert bed_tick(state, profile=p, now=local(13), config=CFG)[1] == []


def test_no_inactivity_alert_at_night() -> None:
    p = profile()
    state, _ = note_activity(BedState(), local(19), profile=p, config=CFG)
    assert bed_tick(state, profile=p, now=local(23, 30), config=CFG)[1] == []


def test_small_bed_movement_is_not_activity() -> None:
    state, out = bed_step(
        BedState(), Vital(local(9), "movement", 0.1, "bed", "b1"), profile=profile(), config=CFG
    )
    assert out == [] and state.last_activity is None


def kinds(alerts: list[AlertCandidate]) -> list[str]:
    return [a.action for a in alerts]
