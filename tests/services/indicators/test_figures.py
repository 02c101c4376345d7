"""The pure figures on small hand-made rows; every expected number is worked out by hand in the
comments, not by the code under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.indicators.figures import (
    AlertRow,
    IncidentRow,
    OutbreakRow,
    ReferralRow,
    ResidentRow,
    Rows,
    Window,
    days_in_home,
    durations,
    flatten,
    indicators,
)

START = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 1 November 00:00 in Shanghai
WINDOW = Window(START, START + timedelta(days=30))


def at(day: float) -> datetime:
    return START + timedelta(days=day)


def test_median_and_p90_by_nearest_rank() -> None:
    assert durations([]) == {"count": 0, "median_s": None, "p90_s": None}
    # 10 values 1..10: median (5 + 6) / 2, p90 the 9th.
    assert durations(range(10, 0, -1)) == {"count": 10, "median_s": 5.5, "p90_s": 9}
    # 3 values: median the middle one, p90 rank ceil(2.7) = 3.
    assert durations([30, 10, 20]) == {"count": 3, "median_s": 20, "p90_s": 30}


def test_days_in_home_count_only_admitted_time_inside_the_window() -> None:
    before = ResidentRow(at(-5))
    assert days_in_home(WINDOW, before) == 30
    # Admitted on day 10, in hospital days 12-15, discharged on day 20: 2 + 5 days.
    moved = ResidentRow(
        at(10), [(at(12), "in_hospital"), (at(15), "admitted"), (at(20), "discharged")]
    )
    assert days_in_home(WINDOW, moved) == 7
    assert days_in_home(WINDOW, ResidentRow(at(31))) == 0
    assert days_in_home(WINDOW, ResidentRow(at(-9), [(at(-1), "deceased")])) == 0


def test_figures_of_a_small_month() -> None:
    rows = Rows(
        alerts=[
            AlertRow("fall.motion", at(1), at(1) + timedelta(minutes=10), "actionable", 1),
            AlertRow("fall.motion", at(2), at(2) + timedelta(minutes=20), "false_alarm", 2),
            AlertRow("fall.device", at(3), at(3) + timedelta(minutes=30), "already_attended", 3),
            AlertRow("sos", at(4), None, None, 4),
            AlertRow("wear_off", at(5), at(5) + timedelta(minutes=40), "self_cleared", 5),
            AlertRow("fall.motion", at(-1), at(-1), "actionable", 6),  # before the window
            # The long lie after fall 1 is the same fall.
            AlertRow("fall.long_lie", at(1.01), at(1.01) + timedelta(minutes=40), "actionable", 1),
        ],
        incidents=[
            IncidentRow(at(1), at(1) + timedelta(seconds=60), escalations=1, unstaffed_steps=1),
            IncidentRow(at(2), at(2) + timedelta(seconds=180)),
            IncidentRow(at(4), None, escalations=2),
            IncidentRow(at(30), at(30), escalations=5),  # after the window
        ],
        residents=[
            ResidentRow(at(-100), ability_level="severe", conditions=frozenset({"dementia"})),
            ResidentRow(at(15), ability_level="mild"),
            ResidentRow(at(-3), [(at(-2), "discharged")], ability_level="complete_loss"),
        ],
        referrals=[
            ReferralRow(at(1), at(1) + timedelta(minutes=15), None),
            ReferralRow(at(2), at(2) + timedelta(minutes=16), at(9)),
            ReferralRow(at(3), None, None),
            ReferralRow(None, None, None),
            ReferralRow(at(-4), at(-4), at(1)),  # asked before, returned inside
        ],
        outbreaks=[
            OutbreakRow("gastrointestinal", at(6), at(6) + timedelta(hours=2), "reported"),
            OutbreakRow("respiratory", at(7), None, "ruled_out"),
        ],
        observations=4,
    )
    got = indicators(WINDOW, rows)
    fall = got["alerts"]["by_rule"]["fall.motion"]
    # 2 motion falls in the window: actionable, false alarm -> 1 of 2 real.
    assert (fall["total"], fall["actionable"], fall["false_alarm"]) == (2, 1, 1)
    assert fall["precision"] == 0.5
    assert got["alerts"]["by_rule"]["fall.device"]["precision"] == 1
    assert got["alerts"]["by_rule"]["sos"]["unresolved"] == 1
    assert got["alerts"]["by_rule"]["sos"]["precision"] is None
    assert got["alerts"]["by_rule"]["wear_off"]["precision"] is None  # self-cleared: unjudged
    assert got["alerts"]["total"] == 6
    # Resolved: 10, 20, 30, 40, 40 minutes -> median 30 min, p90 rank 5 = 40 min.
    assert got["alerts"]["time_to_resolve"] == {"count": 5, "median_s": 1800, "p90_s": 2400}
    # Acknowledged: 60 s and 180 s -> median 120, p90 180.
    assert got["incidents"]["time_to_acknowledge"] == {"count": 2, "median_s": 120, "p90_s": 180}
    assert got["incidents"]["escalated"] == 2
    assert got["incidents"]["escalation_steps"] == 3
    assert got["incidents"]["unstaffed_steps"] == 1
    # 30 + 15 resident-days; 2 real falls (incidents 1 and 3) -> 2000 / 45.
    res = got["residents"]
    assert res["resident_days"] == 45
    assert res["average_census"] == 1.5
    assert res["residents"] == 2
    assert res["falls"] == 2
    assert res["falls_per_1000_resident_days"] == pytest.approx(2000 / 45)
    assert (res["disabled"], res["disabled_share"]) == (1, 0.5)
    assert (res["dementia"], res["dementia_share"]) == (1, 0.5)
    assert got["referrals"] == {
        "requested": 3,
        "answered": 2,
        "answered_within_15_min": 1,
        "answered_within_15_min_share": pytest.approx(1 / 3),
        "returned": 2,
    }
    assert got["observations"] == {"done": 4}
    out = got["outbreaks"]
    assert (out["opened"], out["reported"], out["ruled_out"], out["open"]) == (2, 1, 1, 0)
    assert out["by_syndrome"] == {"gastrointestinal": 1, "respiratory": 1}
    assert out["time_to_report"] == {"count": 1, "median_s": 7200, "p90_s": 7200}


def test_an_empty_window_has_no_rates() -> None:
    got = indicators(WINDOW, Rows())
    assert got["residents"]["falls_per_1000_resident_days"] is None
    assert got["referrals"]["answered_within_15_min_share"] is None
    assert ("alerts.time_to_resolve.median_s", None) in flatten(got)
    assert ("residents.resident_days", 0.0) in flatten(got)
