from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from rules.config import merge
from services.detector.residents import Assignment, Attribution

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class FakeTable:
    """device_assignments: every device has `assignments`; counts the reads."""

    def __init__(self, devices: list[str], assignments: list[Assignment]) -> None:
        self.devices = devices
        self.assignments = assignments
        self.all_reads = 0
        self.one_reads: list[str] = []

    def one(self, device_id: str) -> list[Assignment]:
        self.one_reads.append(device_id)
        return list(self.assignments)

    def all(self) -> dict[str, list[Assignment]]:
        self.all_reads += 1
        return {d: list(self.assignments) for d in self.devices}

    def attribution(self, clock: Callable[[], float]) -> Attribution:
        return Attribution(self.one, self.all, clock, refresh_s=30)


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
    attribution = FakeTable(["w1"], HISTORY).attribution(lambda: 0.0)
    assert attribution.resident_at("w1", T0 + offset) == resident


def test_assignments_are_cached_then_refreshed() -> None:
    now = [0.0]
    table = FakeTable(["w1"], HISTORY)
    attribution = table.attribution(lambda: now[0])
    attribution.resident_at("w1", T0)
    attribution.resident_at("w1", T0)
    assert table.all_reads == 1
    table.assignments = [Assignment(9, T0, None)]  # re-assigned behind our back
    now[0] = 31.0
    assert attribution.resident_at("w1", T0) == 9


def test_every_device_is_read_in_one_query_per_interval() -> None:
    # Thousands of devices must not each cost a round trip per interval.
    now = [0.0]
    devices = [f"w{i}" for i in range(1000)]
    table = FakeTable(devices, HISTORY)
    attribution = table.attribution(lambda: now[0])
    for second in range(0, 61):
        now[0] = float(second)
        for device in devices:
            assert attribution.resident_at(device, T0) == 1
    assert (table.all_reads, table.one_reads) == (3, [])  # at 0, 30 and 60 s


def test_a_device_provisioned_since_the_last_read_is_read_once_on_its_own() -> None:
    table = FakeTable(["w1"], HISTORY)
    attribution = table.attribution(lambda: 0.0)
    assert attribution.resident_at("w1", T0) == 1
    table.devices.append("w-new")
    for _ in range(3):
        assert attribution.resident_at("w-new", T0) == 1
    assert (table.all_reads, table.one_reads) == (1, ["w-new"])


def test_resident_overrides_merge_over_the_sites() -> None:
    site = {"vitals": {"spo2": {"low": 90, "persistence_s": 15}}, "fall": {"long_lie_s": 300}}
    resident = {"vitals": {"spo2": {"low": 85}}}
    assert merge(site, resident) == {
        "vitals": {"spo2": {"low": 85, "persistence_s": 15}},
        "fall": {"long_lie_s": 300},
    }
