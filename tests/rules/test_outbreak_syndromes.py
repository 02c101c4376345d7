"""Tests for rules.outbreak_syndromes: case definitions, counts and windows per syndrome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.config import with_overrides
from rules.errors import OverrideError
from rules.outbreak_syndromes import (
    ClusterState,
    SignReport,
    Syndrome,
    SyndromesConfig,
    syndrome_step,
)
from rules.types import AlertCandidate
from rules.vocabulary import PersonKind

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CFG = SyndromesConfig()


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


class Unit:
    """One unit's state for one syndrome, driven with a fake clock."""

    def __init__(self, syndrome: Syndrome, config: SyndromesConfig = CFG) -> None:
        self.syndrome: Syndrome = syndrome
        self.config = config.of(syndrome)
        self.state = ClusterState()
        self.out: list[AlertCandidate] = []

    def signs(
        self,
        person: int,
        at: float,
        *signs: str,
        kind: PersonKind = "resident",
        temp: float | None = None,
    ) -> list[AlertCandidate]:
        return self._step(SignReport(kind, person, hours(at), frozenset(signs), temp), at)

    def tick(self, now: float) -> list[AlertCandidate]:
        return self._step(None, now)

    def _step(self, report: SignReport | None, now: float) -> list[AlertCandidate]:
        self.state, got = syndrome_step(
            self.state,
            report,
            syndrome=self.syndrome,
            site_id="site-a",
            unit_id="unit-1",
            now=hours(now),
            config=self.config,
        )
        self.out.extend(got)
        return got


def test_three_gastrointestinal_cases_in_three_days_raise_one_alert_with_counts_only() -> None:
    unit = Unit("gastrointestinal")
    assert unit.signs(1, 0, "vomiting") == []
    assert unit.signs(2, 10, "diarrhoea", kind="staff") == []
    [raised] = unit.signs(3, 70, "vomiting", "diarrhoea")
    assert raised.action == "raise"
    assert raised.rule_id == "outbreak.gastrointestinal_cluster"
    assert raised.subject == "unit:site-a/unit-1"
    assert raised.audience == "infection_control"
    assert raised.values["count"] == 3
    assert (raised.values["residents"], raised.values["staff"]) == (2, 1)
    # Nobody's identity in what may go out by page.
    assert not any(str(v) in ("1", "2", "3") for v in raised.values.values() if isinstance(v, str))
    cases = unit.state.cases
    assert set(cases) == {("resident", 1), ("staff", 2), ("resident", 3)}
    assert cases[("resident", 3)].signs == {"vomiting", "diarrhoea"}
    unit.signs(3, 71, "rash")  # reported after: on the line list, no new case
    assert cases is not unit.state.cases
    assert unit.state.cases[("resident", 3)].signs == {"vomiting", "diarrhoea", "rash"}
    assert unit.out == [raised]


def test_cases_further_apart_than_the_window_do_not_cluster_and_an_expired_one_clears() -> None:
    unit = Unit("gastrointestinal")
    unit.signs(1, 0, "vomiting")
    unit.signs(2, 3, "vomiting")
    assert unit.signs(3, 73, "vomiting") == []  # the first left the 72 h window
    unit.signs(4, 74, "diarrhoea")
    assert [c.action for c in unit.out] == ["raise"]
    [cleared] = unit.tick(75.5)  # resident 2's onset (3 h) left the window
    assert cleared.action == "clear"


def test_a_new_case_while_open_is_an_update_and_a_repeat_is_not() -> None:
    unit = Unit("gastrointestinal")
    for person in (1, 2, 3):
        unit.signs(person, person, "diarrhoea")
    assert unit.signs(2, 5, "vomiting") == []  # a known case's further sign: no new case
    [update] = unit.signs(4, 6, "vomiting")
    assert (update.action, update.values["count"]) == ("update", 4)


def test_influenza_like_needs_fever_with_cough_or_sore_throat_within_the_signs_window() -> None:
    config = with_overrides(CFG, {"respiratory.min_cases": 2})
    unit = Unit("respiratory", config)
    unit.signs(1, 0, "cough")
    unit.signs(2, 0, "sore_throat")
    assert unit.state.cases == {}  # no fever: not influenza-like
    unit.signs(1, 80, "fever", temp=38.6)  # 80 h after the cough: too far apart
    assert unit.state.cases == {}
    [raised] = [*unit.signs(1, 81, "cough"), *unit.signs(2, 50, "fever", temp=38.2)]
    assert raised.action == "raise"
    case = unit.state.cases[("resident", 2)]
    assert (case.onset, case.temperature) == (hours(0), 38.2)
    assert unit.state.cases[("resident", 1)].onset == hours(80)


def test_the_default_influenza_like_count_is_ten_in_a_week() -> None:
    unit = Unit("respiratory")
    for person in range(9):
        unit.signs(person, person * 12, "fever", "cough")
    assert unit.out == []
    [raised] = unit.signs(9, 9 * 12, "fever", "sore_throat")
    assert raised.values["count"] == 10
    assert raised.values["window_h"] == 168


def test_signs_outside_the_definition_are_not_kept() -> None:
    unit = Unit("gastrointestinal")
    unit.signs(1, 0, "cough", "rash")
    assert unit.state.seen == {}


def test_a_disabled_syndrome_counts_nobody() -> None:
    unit = Unit("gastrointestinal", with_overrides(CFG, {"gastrointestinal.enabled": False}))
    for person in range(5):
        unit.signs(person, 0, "vomiting")
    assert unit.out == []


def test_state_of_another_unit_is_refused() -> None:
    unit = Unit("gastrointestinal")
    unit.signs(1, 0, "vomiting")
    with pytest.raises(ValueError, match="fed for"):
        syndrome_step(
            unit.state,
            None,
            syndrome="gastrointestinal",
            site_id="site-a",
            unit_id="unit-2",
            now=hours(1),
            config=unit.config,
        )


@pytest.mark.parametrize(
    "override",
    [
        {"gastrointestinal.min_cases": 1},
        {"gastrointestinal.case_definition": [[]]},
        {"gastrointestinal.case_definition": [["sneezing"]]},
        {"respiratory.window_s": 0},
    ],
    ids=["one case", "empty set", "unknown sign", "no window"],
)
def test_bad_configuration_is_refused_naming_the_key(override: dict[str, object]) -> None:
    with pytest.raises(OverrideError):
        with_overrides(CFG, override)
