from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.config import merge
from services.detector.residents import Assignment, Attribution

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class FakeLoad:
    def __init__(self, assignments: list[Assignment]) -> None:
        self.assignments = assignments
        self.calls = 0

    def __call__(self, device_id: str) -> list[Assignment]:
        self.calls += 1
        return list(self.assignments)


HISTORY = [
    Assignment(1, T0, T0 + timedelta(days=1)),
    Assignment(2, T0 + timedelta(days=1), None),
]


@pytest.mark.parametrize(
    ("offset", "resident"),
    [
        (timedelta(hours=-1), None),
        (timedelta(0), 1),
        (timedelta(hours=23), 1),
        (timedelta(days=1), 2),
        (timedelta(days=400), 2),
    ],
    ids=["before-any", "first-start", "first-end-minus", "second-start", "still-open"],
)
def test_resident_at_the_readings_time(offset: timedelta, resident: int | None) -> None:
    attribution = Attribution(FakeLoad(HISTORY), clock=lambda: 0.0)
    assert attribution.resident_at("w1", T0 + offset) == resident


def test_assignments_are_cached_then_refreshed() -> None:
    now = [0.0]
    load = FakeLoad(HISTORY)
    attribution = Attribution(load, clock=lambda: now[0], refresh_s=30)
    attribution.resident_at("w1", T0)
    attribution.resident_at("w1", T0)
    assert load.calls == 1
    load.assignments = [Assignment(9, T0, None)]  # re-assigned behind our back
    now[0] = 31.0
    assert attribution.resident_at("w1", T0) == 9


def test_entries_loaded_together_expire_apart() -> None:
    # A thousand devices seen in the first second must not all be re-read in the same one.
    load = FakeLoad(HISTORY)
    now = [0.0]
    attribution = Attribution(load, clock=lambda: now[0], refresh_s=30)
    devices = [f"w{i}" for i in range(1000)]
    for device in devices:
        attribution.resident_at(device, T0)
    reloads = []
    for second in range(15, 31):
        now[0] = float(second)
        before = load.calls
        for device in devices:
            attribution.resident_at(device, T0)
        reloads.append(load.calls - before)
    assert reloads[0] == 0  # nothing before half the interval
    assert sum(reloads) >= 1000  # everything by the full interval
    assert max(reloads) < 200  # spread out, not all at once


def test_resident_overrides_merge_over_the_sites() -> None:
    site = {"vitals": {"spo2": {"low": 90, "persistence_s": 15}}, "fall": {"long_lie_s": 300}}
    resident = {"vitals": {"spo2": {"low": 85}}}
    assert merge(site, resident) == {
        "vitals": {"spo2": {"low": 85, "persistence_s": 15}},
        "fall": {"long_lie_s": 300},
    }
