"""Tests for services.careteam.roster: shifts (crossing midnight, weekdays, 24 h), on_duty,
links."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from services.careteam.errors import AlertConfigError
from services.careteam.roster import (
    ResidentContacts,
    Roster,
    Shift,
    Staff,
    on_duty,
    resident_contacts,
)
from tests.services.alerts.fakes import ROSTER, TZ

MON, TUE = 0, 1
CG = Staff("cg", "Cg", "caregiver", ("ntfy://cg",))


def local(day: int, hh: int, mm: int = 0) -> datetime:
    """Monday 2026-03-09 + `day` days at hh:mm in Shanghai."""
    return datetime(2026, 3, 9 + day, hh, mm, tzinfo=TZ)


SHIFT_CASES = [
    # (start, end, weekdays, when, covered)
    pytest.param(time(7), time(22), None, local(0, 7), True, id="day-start-inclusive"),
    pytest.param(time(7), time(22), None, local(0, 22), False, id="day-end-exclusive"),
    pytest.param(time(7), time(22), None, local(0, 6, 59), False, id="day-before"),
    pytest.param(time(22), time(7), None, local(0, 23), True, id="night-evening"),
    pytest.param(time(22), time(7), None, local(1, 3), True, id="night-after-midnight"),
    pytest.param(time(22), time(7), None, local(1, 7), False, id="night-end-exclusive"),
    pytest.param(time(22), time(7), None, local(1, 12), False, id="night-midday"),
    pytest.param(time(22), time(7), {MON}, local(1, 3), True, id="monday-night-covers-tue-3am"),
    pytest.param(time(22), time(7), {MON}, local(0, 3), False, id="monday-night-not-mon-3am"),
    pytest.param(time(22), time(7), {MON}, local(1, 23), False, id="monday-night-not-tue-23"),
    pytest.param(time(22), time(7), {TUE}, local(1, 23), True, id="tuesday-night"),
    pytest.param(time(7), time(22), {TUE}, local(0, 10), False, id="weekday-off"),
    pytest.param(time(0), time(0), None, local(3, 4), True, id="all-day"),
    pytest.param(time(8), time(8), {MON}, local(1, 7, 59), True, id="24h-from-monday-8"),
    pytest.param(time(8), time(8), {MON}, local(1, 8), False, id="24h-ends-tuesday-8"),
]


@pytest.mark.parametrize(("start", "end", "days", "when", "covered"), SHIFT_CASES)
def test_shift_covers(
    start: time, end: time, days: set[int] | None, when: datetime, covered: bool
) -> None:
    shift = Shift("cg", "s", start, end, weekdays=None if days is None else frozenset(days))
    roster = Roster.of([CG], [shift])
    assert bool(on_duty(roster, "s", "u", "caregiver", when, "Asia/Shanghai")) is covered


def test_on_duty_converts_to_the_site_zone() -> None:
    # 15:00 UTC is 23:00 in Shanghai: the night caregiver, not the day one.
    when = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert [s.id for s in on_duty(ROSTER, "site-a", "unit-1", "caregiver", when, TZ)] == [
        "cg-night"
    ]


@pytest.mark.parametrize(
    ("site", "unit", "role", "expected"),
    [
        ("site-a", "unit-1", "caregiver", ["cg-day"]),
        ("site-a", "unit-2", "caregiver", ["cg-other"]),
        ("site-a", "unit-1", "charge_nurse", ["cn"]),  # site-wide shift
        ("site-a", None, "charge_nurse", ["cn"]),
        ("site-a", None, "caregiver", []),  # unit shifts need a unit
        ("site-b", "unit-1", "caregiver", []),
        ("site-a", "unit-1", "nurse", []),
    ],
    ids=["unit", "other-unit", "site-wide", "no-unit-site-wide", "no-unit", "other-site", "role"],
)
def test_on_duty_scope(site: str, unit: str | None, role: str, expected: list[str]) -> None:
    found = on_duty(ROSTER, site, unit, role, local(0, 10), TZ)  # type: ignore[arg-type]
    assert [s.id for s in found] == expected


def test_on_duty_needs_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        on_duty(ROSTER, "site-a", "unit-1", "caregiver", datetime(2026, 3, 9, 10), TZ)  # noqa: DTZ001


def test_resident_contacts() -> None:
    assert [s.id for s in resident_contacts(ROSTER, 7, "family")] == ["fam"]
    assert [s.id for s in resident_contacts(ROSTER, 7, "family_doctor")] == ["fd"]
    assert resident_contacts(ROSTER, 1, "family") == []
    assert resident_contacts(ROSTER, 404, "family_doctor") == []


FAM = Staff("fam", "Fam", "family", ("ntfy://f",))


@pytest.mark.parametrize(
    ("staff", "shifts", "residents", "key"),
    [
        ([Staff("x", "X", "caregiver", ())], [], [], "staff.x.channels"),
        ([Staff("x", "X", "janitor", ("a://",))], [], [], "staff.x.role"),  # type: ignore[arg-type]
        ([CG], [Shift("nobody", "s", time(7), time(8))], [], "shifts.0.staff_id"),
        (
            [CG],
            [Shift("cg", "s", time(7), time(8), weekdays=frozenset({7}))],
            [],
            "shifts.0.weekdays",
        ),
        ([CG], [Shift("cg", "s", time(7), time(8), weekdays=frozenset())], [], "shifts.0.weekdays"),
        ([CG], [], [ResidentContacts(1, "s", "u", timezone="Mars/Base")], "residents.1.timezone"),
        ([CG], [], [ResidentContacts(1, "s", "u", family=("ghost",))], "residents.1.family"),
        (
            [CG, FAM],
            [],
            [ResidentContacts(1, "s", "u", family_doctors=("fam",))],
            "residents.1.family_doctors",
        ),
    ],
    ids=[
        "no-channel",
        "bad-role",
        "unknown-staff",
        "weekday-7",
        "no-weekdays",
        "bad-zone",
        "unknown-family",
        "wrong-role-link",
    ],
)
def test_roster_validation(
    staff: list[Staff], shifts: list[Shift], residents: list[ResidentContacts], key: str
) -> None:
    with pytest.raises(AlertConfigError) as err:
        Roster.of(staff, shifts, residents)
    assert key in err.value.keys
