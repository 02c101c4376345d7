"""Tests for rules.outbreak: one fever-cluster alert per unit, raised at K, updated, cleared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.config import with_overrides
from rules.errors import OverrideError
from rules.outbreak import (
    OutbreakConfig,
    OutbreakState,
    outbreak_step,
)
from rules.types import AlertCandidate

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
CFG = OutbreakConfig()


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


class Unit:
    """One unit's outbreak state, driven with a fake clock."""

    def __init__(self, unit_id: str = "unit-1", config: OutbreakConfig = CFG) -> None:
        self.unit_id = unit_id
        self.config = config
        self.state = OutbreakState()
        self.out: list[AlertCandidate] = []

    def onset(self, resident: int, at: float, now: float | None = None) -> list[AlertCandidate]:
        return self._step((resident, hours(at)), at if now is None else now)

    def tick(self, now: float) -> list[AlertCandidate]:
        return self._step(None, now)

    def _step(self, onset: tuple[int, datetime] | None, now: float) -> list[AlertCandidate]:
        self.state, got = outbreak_step(
            self.state,
            onset,
            site_id="site-a",
            unit_id=self.unit_id,
            now=hours(now),
            config=self.config,
        )
        self.out.extend(got)
        return got


def test_raise_at_k_update_at_k_plus_one_clear_after_window() -> None:
    unit = Unit()
    assert unit.onset(1, 0) == [] and unit.onset(2, 10) == []
    [raised] = unit.onset(3, 30)
    assert raised.rule_id == "outbreak.fever_cluster"
    assert raised.action == "raise"
    assert raised.subject == "unit:site-a/unit-1"
    assert raised.dedupe_key == "outbreak.fever_cluster:unit:site-a/unit-1"
    assert (raised.audience, raised.severity, raised.ts) == ("infection_control", "high", hours(30))
    assert raised.values["count"] == 3 and raised.values["residents"] == "1,2,3"
    assert raised.values["window_h"] == 72
    assert raised.values["first_onset"] == hours(0).isoformat()

    [update] = unit.onset(4, 40)
    assert (update.action, update.values["count"], update.values["residents"]) == (
        "update",
        4,
        "1,2,3,4",
    )
    assert unit.onset(2, 45) == []  # a resident already counted: nothing new to say
    assert unit.tick(72) == []  # resident 1 leaves the window: 3 remain
    assert unit.tick(82.5) == []  # resident 2's latest onset (45 h) is still inside
    [cleared] = unit.tick(102.5)  # resident 3 (30 h) leaves too: 2 remain
    assert (cleared.action, cleared.ts, cleared.values["count"]) == ("clear", hours(102.5), 2)
    assert cleared.values["residents"] == "2,4"
    assert [c.action for c in unit.out] == ["raise", "update", "clear"]
    assert not unit.state.open


def test_one_alert_per_unit_however_many_join() -> None:
    unit = Unit()
    for resident in range(1, 11):
        unit.onset(resident, resident)
    assert [c.action for c in unit.out] == ["raise"] + ["update"] * 7
    assert len({c.dedupe_key for c in unit.out}) == 1


WINDOW = [
    # (id, onset hours of residents 1..3, raises)
    ("all-within-72-h", [0, 30, 71.9], True),
    ("first-expired", [0, 30, 72.1], False),
    ("same-hour", [5, 5, 5], True),
]


@pytest.mark.parametrize(("onsets", "raises"), [w[1:] for w in WINDOW], ids=[w[0] for w in WINDOW])
def test_window(onsets: list[float], raises: bool) -> None:
    unit = Unit()
    for resident, at in enumerate(onsets, start=1):
        unit.onset(resident, at)
    assert [c.action for c in unit.out] == (["raise"] if raises else [])


def test_residents_of_other_units_are_not_counted() -> None:
    one, two = Unit("unit-1"), Unit("unit-2")
    one.onset(1, 0)
    one.onset(2, 1)
    two.onset(3, 2)
    two.onset(4, 3)
    assert one.out == [] and two.out == []
    [raised] = two.onset(5, 4)
    assert raised.subject == "unit:site-a/unit-2" and raised.values["residents"] == "3,4,5"
    assert one.out == [] and set(one.state.onsets) == {1, 2}
    with pytest.raises(ValueError, match="unit:site-a/unit-1"):
        outbreak_step(one.state, None, site_id="site-a", unit_id="unit-2", now=T0, config=CFG)


def test_a_resident_counts_again_after_leaving_the_window() -> None:
    unit = Unit()
    for resident in (1, 2, 3, 4):
        unit.onset(resident, 10 * resident)
    assert unit.tick(82.5) == []  # resident 1 (10 h) out of the window; 3 remain: still open
    assert set(unit.state.onsets) == {2, 3, 4} and unit.state.open
    [update] = unit.onset(1, 85)
    assert update.action == "update" and update.values["residents"] == "1,2,3,4"


def test_late_onsets_outside_the_window_are_ignored() -> None:
    unit = Unit()
    unit.onset(1, 0, now=100)
    assert unit.state.onsets == {}


def test_overrides() -> None:
    unit = Unit(config=with_overrides(CFG, {"min_residents": 2, "window_s": 48 * 3600}))
    unit.onset(1, 0)
    [raised] = unit.onset(2, 47)
    assert raised.values["window_h"] == 48
    with pytest.raises(OverrideError) as info:
        with_overrides(CFG, {"min_residents": 1})
    assert info.value.keys == ("min_residents",)
