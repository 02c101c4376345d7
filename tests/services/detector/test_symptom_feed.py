"""Tests for services.detector.symptom_feed: a resident's round and a member of staff's
check-in reach the clusters of the right unit, with the right kind of case."""

from __future__ import annotations

from datetime import UTC, datetime

from rules.engine import Engine
from services.detector.symptom_feed import feed
from services.detector.ward_inputs import SymptomObservation

NOW = datetime(2026, 3, 9, 8, tzinfo=UTC)


def test_a_staff_check_in_is_a_staff_case_of_the_unit_named() -> None:
    engine = Engine()
    touched: set[int] = set()
    row = SymptomObservation(7, None, ["vomiting"], NOW, staff_person=3, site_id="s", unit_id="u")
    assert feed(engine, row, lambda _: True, touched, NOW) == []  # one case is no cluster
    cases = engine.clusters[("s", "u", "gastrointestinal")].cases
    assert set(cases) == {("staff", 3)}
    assert touched == set()  # no resident's state changed


def test_a_resident_unknown_to_the_detector_is_skipped() -> None:
    engine = Engine()
    touched: set[int] = set()
    row = SymptomObservation(8, 42, ["vomiting"], NOW)
    assert feed(engine, row, lambda _: False, touched, NOW) == []
    assert engine.clusters == {} and touched == set()
