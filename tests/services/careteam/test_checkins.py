"""Tests for services.careteam.checkins: who is due a health check-in today, late or not; the
unit a member of staff works in; the signs a check-in reports."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.careteam.checkins import due_today, signs_of, work_unit
from services.careteam.roster import Roster, Shift, Staff

TZ = ZoneInfo("Asia/Shanghai")
MON, TUE = 0, 1
STAFF = [
    Staff("day", "Day Nurse", "nurse", ("ntfy://a",)),
    Staff("night", "Night Carer", "caregiver", ("ntfy://b",)),
    Staff("tue", "Tuesday Only", "caregiver", ("ntfy://c",)),
    Staff("away", "Other Site", "caregiver", ("ntfy://d",)),
    Staff("two", "Two Units", "caregiver", ("ntfy://e",)),
]
ROSTER = Roster.of(
    STAFF,
    [
        Shift("day", "s1", time(7), time(15), frozenset({"u1"})),
        Shift("day", "s1", time(15), time(22), frozenset({"u1"})),  # a second shift: once
        Shift("night", "s1", time(22), time(7), frozenset({"u2"})),
        Shift("tue", "s1", time(7), time(15), frozenset({"u1"}), weekdays=frozenset({TUE})),
        Shift("away", "s2", time(7), time(15), frozenset({"u1"})),
        Shift("two", "s1", time(8), time(16), frozenset({"u1"})),
        Shift("two", "s1", time(16), time(20), frozenset({"u2"})),
    ],
)


def monday(hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, 9, hh, mm, tzinfo=TZ)  # a Monday


DUE_CASES = [
    # (now, checked in, expected [(staff, late)])
    pytest.param(
        monday(6), set(), [("day", False), ("two", False), ("night", False)], id="before-all"
    ),
    pytest.param(
        monday(7, 30), set(), [("day", True), ("two", False), ("night", False)], id="day-late"
    ),
    pytest.param(monday(23), {"day", "two"}, [("night", True)], id="checked-in-drop-out"),
    pytest.param(monday(9), {"day", "two", "night"}, [], id="everyone-in"),
]


@pytest.mark.parametrize(("now", "checked_in", "expected"), DUE_CASES)
def test_who_is_due_a_check_in_today(
    now: datetime, checked_in: set[str], expected: list[tuple[str, bool]]
) -> None:
    due = due_today(ROSTER, "s1", now, checked_in)
    assert [(d.staff_id, d.late) for d in due] == expected


def test_a_due_entry_carries_the_earliest_shift_and_its_units() -> None:
    [day] = [d for d in due_today(ROSTER, "s1", monday(6), set()) if d.staff_id == "day"]
    assert (day.name, day.start, day.units) == ("Day Nurse", time(7), ("u1",))


def test_a_weekday_shift_is_due_only_on_its_day() -> None:
    tuesday = datetime(2026, 3, 10, 6, tzinfo=TZ)
    assert "tue" in {d.staff_id for d in due_today(ROSTER, "s1", tuesday, set())}
    assert "tue" not in {d.staff_id for d in due_today(ROSTER, "s1", monday(6), set())}


@pytest.mark.parametrize(
    ("staff", "site", "unit"),
    [
        pytest.param("day", "s1", "u1", id="one-unit"),
        pytest.param("two", "s1", None, id="two-units-ambiguous"),
        pytest.param("away", "s1", None, id="no-shift-at-site"),
        pytest.param("tue", "s1", None, id="not-their-day"),
    ],
)
def test_the_unit_a_member_of_staff_works_in(staff: str, site: str, unit: str | None) -> None:
    assert work_unit(ROSTER, staff, site, date(2026, 3, 9)) == unit


@pytest.mark.parametrize(
    ("temperature", "symptoms", "signs"),
    [
        pytest.param(36.6, set(), [], id="well"),
        pytest.param(38.0, set(), ["fever"], id="fever-at-38"),
        pytest.param(37.9, {"cough"}, ["cough"], id="below-fever"),
        pytest.param(38.5, {"vomiting"}, ["fever", "vomiting"], id="both"),
    ],
)
def test_the_signs_a_check_in_reports(
    temperature: float, symptoms: set[str], signs: list[str]
) -> None:
    assert signs_of(temperature, symptoms) == signs
