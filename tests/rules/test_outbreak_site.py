"""Tests for rules.outbreak_site: clusters counted over every unit of a site, and what they
leave to the unit rules (driven through the engine, which feeds both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.config import with_overrides
from rules.engine import Engine
from rules.outbreak import OutbreakState
from rules.outbreak_site import (
    SiteClustersConfig,
    SiteClusterState,
    UnitCases,
    site_index,
    site_rule_id,
    site_step,
    sites_step,
)
from rules.outbreak_syndromes import Case, SignReport
from rules.types import AlertCandidate
from rules.vocabulary import PersonKind

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
GI = site_rule_id("gastrointestinal")


def hours(h: float) -> datetime:
    return T0 + timedelta(hours=h)


def vomit(
    engine: Engine, unit: str, person: int, at: float, kind: PersonKind = "resident"
) -> list[AlertCandidate]:
    report = SignReport(kind, person, hours(at), frozenset({"vomiting"}))
    return engine.signs("site-a", unit, report, now=hours(at))


def rules(found: list[AlertCandidate]) -> list[tuple[str, str, str]]:
    return [(c.rule_id, c.action, c.subject) for c in found]


def test_cases_spread_over_units_raise_one_site_cluster_with_each_case_in_its_unit() -> None:
    engine = Engine()
    assert vomit(engine, "unit-1", 1, 0) == []
    assert vomit(engine, "unit-2", 2, 1) == []
    found = vomit(engine, "unit-3", 7, 2, kind="staff")  # staff count in the unit they work in
    assert rules(found) == [(GI, "raise", "site:site-a")]
    assert found[0].values["count"] == 3
    assert found[0].values["staff"] == 1
    assert found[0].values["units"] == "unit-1,unit-2,unit-3"
    assert "residents" not in found[0].title  # counts, never who
    syndrome, cases = engine.cases_of(found[0]) or ("", {})
    assert syndrome == "gastrointestinal"
    assert {p: c.unit for p, c in cases.items()} == {
        ("resident", 1): "unit-1",
        ("resident", 2): "unit-2",
        ("staff", 7): "unit-3",
    }
    # A fourth case is an update of the same alert, not a second one.
    assert rules(vomit(engine, "unit-1", 4, 3)) == [(GI, "update", "site:site-a")]
    # The window passes: the site's cluster clears.
    assert rules(engine.tick_units(now=hours(3 + 72.5))) == [(GI, "clear", "site:site-a")]


def test_cases_all_in_one_open_unit_cluster_leave_the_site_rule_quiet() -> None:
    engine = Engine()
    vomit(engine, "unit-1", 1, 0)
    vomit(engine, "unit-1", 2, 1)
    found = vomit(engine, "unit-1", 3, 2)
    # The unit's own file lists them: no second file for the site.
    assert rules(found) == [("outbreak.gastrointestinal_cluster", "raise", "unit:site-a/unit-1")]
    assert rules(engine.tick_units(now=hours(2.5))) == []
    # A case in another unit goes beyond what the unit's file holds: the site's file opens.
    found = vomit(engine, "unit-2", 9, 3)
    assert rules(found) == [(GI, "raise", "site:site-a")]
    assert found[0].values["count"] == 4


def test_other_sites_and_a_person_seen_in_two_units_count_once() -> None:
    engine = Engine()
    vomit(engine, "unit-1", 1, 0)
    vomit(engine, "unit-2", 1, 1, kind="resident")  # moved: still one person
    other = SignReport("resident", 5, hours(1), frozenset({"vomiting"}))
    assert engine.signs("site-b", "unit-9", other, now=hours(1)) == []
    assert vomit(engine, "unit-2", 2, 2) == []  # two people at site-a, one at site-b


def test_switched_off_or_configured_counts() -> None:
    config = with_overrides(SiteClustersConfig(), {"gastrointestinal.min_cases": 2})
    assert config.gastrointestinal.window_s == 72 * 3600.0
    units = {
        "u1": UnitCases({("resident", 1): Case(hours(0), frozenset({"diarrhoea"}))}, False),
        "u2": UnitCases({("resident", 2): Case(hours(1), frozenset({"vomiting"}))}, False),
    }
    state, found = site_step(
        SiteClusterState(),
        units,
        syndrome="gastrointestinal",
        site_id="s",
        now=hours(1),
        config=config.gastrointestinal,
    )
    assert [c.action for c in found] == ["raise"]
    assert state.open
    off = config.gastrointestinal.model_copy(update={"enabled": False})
    _, found = site_step(
        SiteClusterState(),
        units,
        syndrome="gastrointestinal",
        site_id="s",
        now=hours(1),
        config=off,
    )
    assert found == []
    with pytest.raises(ValueError, match="fed for"):
        site_step(state, units, syndrome="gastrointestinal", site_id="t", now=hours(1), config=off)


def test_fever_onsets_of_several_units_make_a_site_fever_cluster() -> None:
    fevers = {
        ("site-a", f"unit-{n}"): OutbreakState(f"unit:site-a/unit-{n}", {n: hours(n)})
        for n in (1, 2, 3)
    }
    states, found = sites_step(
        {}, "site-a", site_index(fevers, {}), now=hours(3), config=SiteClustersConfig()
    )
    assert rules(found) == [(site_rule_id("fever"), "raise", "site:site-a")]
    assert set(states) == {("site-a", "fever")}
