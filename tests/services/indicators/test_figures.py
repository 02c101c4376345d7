"""The pure figures on small hand-made rows; every expected number is worked out by hand in the
comments, not by the code under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.indicators.figures import (
    AlertRow,
    DeviceRow,
    IncidentRow,
    OutbreakRow,
    ReferralRow,
    ResidentRow,
    Rows,
    ScheduleRow,
    Window,
    contract_figures,
    days_in_home,
    device_figures,
    durations,
    flatten,
    indicators,
    round_outcomes,
    worn_seconds,
)

START = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 1 November 00:00 in Shanghai
WINDOW = Window(START, START + timedelta(days=30))
LATER = START + timedelta(days=60)  # `now`: the window is over


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
    got = indicators(WINDOW, rows, now=LATER)
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
    assert got["observations"]["done"] == 4
    out = got["outbreaks"]
    assert (out["opened"], out["reported"], out["ruled_out"], out["open"]) == (2, 1, 1, 0)
    assert out["by_syndrome"] == {"gastrointestinal": 1, "respiratory": 1}
    assert out["time_to_report"] == {"count": 1, "median_s": 7200, "p90_s": 7200}


def test_an_empty_window_has_no_rates() -> None:
    got = indicators(WINDOW, Rows(), now=LATER)
    assert got["residents"]["falls_per_1000_resident_days"] is None
    assert got["referrals"]["answered_within_15_min_share"] is None
    assert ("alerts.time_to_resolve.median_s", None) in flatten(got)
    assert ("residents.resident_days", 0.0) in flatten(got)


DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        # Never done, daily from day 28: due days 28 and 29, both missed once the day is over.
        (ScheduleRow("r", at(28), DAY, None), LATER, {"missed": 2}),
        # ... but on day 29.5 the one due on day 29 is still within its day: pending.
        (ScheduleRow("r", at(28), DAY, None), at(29.5), {"missed": 1, "pending": 1}),
        # Daily for 400 days before the window, never done: those are skipped, not counted;
        # the window's 30 are missed.
        (ScheduleRow("r", at(-400), DAY, None), LATER, {"missed": 30}),
        # Every 10 days from day 0: done day 0 (on time), day 12 (late: due day 10, next due
        # day 22), day 22 (on time; next due day 32, after the window).
        (ScheduleRow("r", at(0), 10 * DAY, None, [at(0), at(12), at(22)]), LATER,
         {"on_time": 2, "late": 1}),
        # Done early, before the schedule starts: on time, and due again one interval later.
        (ScheduleRow("r", at(5), 30 * DAY, None, [at(4)]), LATER, {"on_time": 1}),
    ],
    ids=["missed", "pending-at-now", "long-missed-skipped", "on-time-and-late", "early"],
)  # fmt: skip
def test_rounds_due_in_the_window_and_what_became_of_them(
    schedule: ScheduleRow, now: datetime, expected: dict[str, int]
) -> None:
    assert dict(round_outcomes(WINDOW, schedule, now)) == expected


def test_wear_starts_from_the_last_event_before_the_window() -> None:
    # Nothing heard: not worn. Worn from before the start to day 10, again from day 20.
    assert worn_seconds([], START, at(30)) == 0
    wear = [(at(-5), True), (at(10), False), (at(20), True)]
    assert worn_seconds(wear, START, at(30)) == 20 * 86_400


def test_device_hours_stop_at_retirement_and_at_now() -> None:
    devices = [
        DeviceRow("wearable", at(-10), None, online_s=3600, wear=[(at(-1), True)]),
        DeviceRow("gateway", at(5), at(10), online_s=7200),
        DeviceRow("bed_sensor", at(-10), at(-5), online_s=0),  # retired before: no hours
    ]
    # `now` on day 15: the wearable 15 days (360 h, all worn), the gateway 5 days (120 h).
    got = device_figures(WINDOW, devices, at(15))
    assert got == {
        "device_hours": 480.0,
        "online_hours": 3.0,
        "online_share": pytest.approx(3 / 480),
        "wearable_hours": 360.0,
        "worn_hours": 360.0,
        "worn_share": 1.0,
    }
    assert device_figures(WINDOW, [], LATER)["online_share"] is None


def test_contract_coverage_against_the_target() -> None:
    got = contract_figures([("disabled", 5, 4), ("aged_80_plus", 4, 3), ("x", 0, 0)], 0.8)
    cats = got["by_category"]
    assert (cats["disabled"]["rate"], cats["disabled"]["meets_target"]) == (0.8, True)
    assert cats["aged_80_plus"]["meets_target"] is False
    assert (cats["x"]["rate"], cats["x"]["meets_target"]) == (None, None)
