"""Tests for services.careteam.handover: which shift a handover covers (the one just ended, or
the one ending within the hour), in the site's time zone, by unit and by weekday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.careteam.handover import DEFAULT_SPAN, Window, handover_window
from services.careteam.team import CareTeam, load_care_team

TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hh: int, mm: int = 0) -> datetime:
    """Monday 2026-03-09 + `day` days at hh:mm in Shanghai."""
    return datetime(2026, 3, 9 + day, hh, mm, tzinfo=TZ)


def care_team(*shifts: dict[str, Any]) -> CareTeam:
    staff = [
        ("cg", "caregiver"),
        ("rn", "nurse"),
        ("dr", "physician"),
        ("cg2", "caregiver"),
    ]
    return load_care_team(
        {
            "staff": [{"id": i, "name": i, "role": r, "channels": ["ntfy://x"]} for i, r in staff],
            "shifts": [{"site": "s", **shift} for shift in shifts],
        }
    )


# Three nursing shifts a day, and a physician's day that ends at 17:00.
WARD = care_team(
    {"staff": "cg", "start": "07:00", "end": "15:00"},
    {"staff": "cg", "start": "15:00", "end": "23:00"},
    {"staff": "rn", "start": "23:00", "end": "07:00"},
    {"staff": "dr", "start": "09:00", "end": "17:00"},
)


@pytest.mark.parametrize(
    ("at", "start", "end"),
    [
        pytest.param(local(1, 7, 20), local(0, 23), local(1, 7), id="night-just-ended"),
        pytest.param(local(1, 6, 30), local(0, 23), local(1, 7), id="night-ends-within-the-hour"),
        pytest.param(local(1, 7), local(0, 23), local(1, 7), id="at-the-end"),
        pytest.param(local(1, 5, 59), local(0, 15), local(0, 23), id="night-not-yet"),
        pytest.param(local(1, 12), local(0, 23), local(1, 7), id="midday-the-night-before"),
        # The physician's 17:00 is not a nursing handover.
        pytest.param(local(1, 17, 30), local(1, 7), local(1, 15), id="nursing-shifts-only"),
        pytest.param(local(1, 22, 45), local(1, 15), local(1, 23), id="evening-ending"),
    ],
)
def test_the_shift_just_ended_or_ending_soon(at: datetime, start: datetime, end: datetime) -> None:
    assert handover_window(WARD, "s", "u", at, TZ) == Window(start, end, "shift")


def test_the_time_is_read_in_the_site_zone() -> None:
    # 23:20 UTC on Monday is 07:20 on Tuesday in Shanghai: the night shift just ended.
    at = datetime(2026, 3, 9, 23, 20, tzinfo=UTC)
    found = handover_window(WARD, "s", None, at, TZ)
    assert (found.start, found.end) == (local(0, 23), local(1, 7))
    assert found.start.utcoffset() == timedelta(hours=8)


def test_a_past_time_without_lead_asks_for_the_shift_ended_by_then() -> None:
    # The page's "previous shift": the one that had ended when this one began.
    found = handover_window(WARD, "s", None, local(1, 7), TZ, lead=timedelta(0))
    assert (found.start, found.end) == (local(0, 23), local(1, 7))
    earlier = handover_window(WARD, "s", None, found.start, TZ, lead=timedelta(0))
    assert (earlier.start, earlier.end) == (local(0, 15), local(0, 23))


def test_unit_shifts_count_only_for_their_unit_and_weekdays_are_kept() -> None:
    team = care_team(
        {"staff": "cg", "start": "08:00", "end": "20:00", "units": ["u1"]},
        {"staff": "cg2", "start": "06:00", "end": "18:00", "units": ["u2"]},
        # Monday only (day 0): on Wednesday its last occurrence is two days back.
        {"staff": "rn", "start": "20:00", "end": "08:00", "weekdays": [0]},
    )
    assert handover_window(team, "s", "u1", local(0, 19, 30), TZ).start == local(0, 8)
    assert handover_window(team, "s", "u2", local(0, 19, 30), TZ).start == local(0, 6)
    wednesday = handover_window(team, "s", "u2", local(2, 10), TZ)
    assert (wednesday.start, wednesday.end) == (local(1, 6), local(1, 18))
    monday_night = handover_window(team, "s", "u3", local(2, 10), TZ)
    assert (monday_night.start, monday_night.end) == (local(0, 20), local(1, 8))


def test_of_two_shifts_ending_together_the_longer_one() -> None:
    team = care_team(
        {"staff": "cg", "start": "07:00", "end": "19:00"},
        {"staff": "cg2", "start": "11:00", "end": "19:00"},
    )
    assert handover_window(team, "s", None, local(0, 19, 5), TZ).start == local(0, 7)


def test_without_shifts_the_last_hours() -> None:
    at = local(0, 10)
    only_on_call = care_team({"staff": "cg", "start": "00:00", "end": "00:00"})
    other_site = care_team({"staff": "cg", "start": "07:00", "end": "15:00"})
    for team, site in ((only_on_call, "s"), (other_site, "elsewhere"), (CareTeam(), "s")):
        assert handover_window(team, site, None, at, TZ) == Window(at - DEFAULT_SPAN, at, "default")


def test_every_site_when_none_is_named() -> None:
    assert handover_window(WARD, None, None, local(1, 7, 20), TZ).end == local(1, 7)


def test_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        handover_window(WARD, "s", None, datetime(2026, 3, 9, 10), TZ)  # noqa: DTZ001
