"""Tests for rules.vitals: limits, persistence, hysteresis, suppression, ordering (settings and
overrides: test_vitals_config.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.config import with_overrides
from rules.types import ResidentProfile
from rules.vitals import uses_scale2, vitals_suppress
from tests.rules.vitals_feed import CFG, RESIDENT, Feed, at, open_rules

COPD = ResidentProfile(7, "site-a", "unit-1", conditions=frozenset({"copd", "dementia"}))
SCALE2 = ResidentProfile(7, "site-a", "unit-1", news2_scale=2)


# --- limits: just inside / just outside, held past persistence ---------------------------

LIMITS = [
    # (metric, value, profile, expected (rule_id, severity) or None)
    ("spo2", 89.9, RESIDENT, ("vital.spo2.low", "high")),
    ("spo2", 90.0, RESIDENT, None),
    ("spo2", 85.0, RESIDENT, ("vital.spo2.low", "high")),
    ("spo2", 84.9, RESIDENT, ("vital.spo2.low", "critical")),
    ("spo2", 100.0, RESIDENT, None),
    # A "copd" tag on NEWS2 scale 1 keeps the scale-1 limits (RCP: scale 2 is the
    # clinician's call for confirmed hypercapnic respiratory failure).
    ("spo2", 89.0, COPD, ("vital.spo2.low", "high")),
    ("spo2", 85.0, COPD, ("vital.spo2.low", "high")),
    ("spo2", 84.9, COPD, ("vital.spo2.low", "critical")),
    ("spo2", 86.0, SCALE2, None),
    ("spo2", 85.0, SCALE2, None),
    ("spo2", 84.9, SCALE2, ("vital.spo2.low", "high")),
    ("spo2", 79.0, SCALE2, ("vital.spo2.low", "critical")),
    ("spo2", 84.0, SCALE2, ("vital.spo2.low", "high")),
    ("hr", 40.9, RESIDENT, ("vital.hr.low", "high")),
    ("hr", 41.0, RESIDENT, None),
    ("hr", 34.0, RESIDENT, ("vital.hr.low", "critical")),
    ("hr", 120.0, RESIDENT, None),
    ("hr", 121.0, RESIDENT, ("vital.hr.high", "medium")),
    ("hr", 131.0, RESIDENT, ("vital.hr.high", "high")),
    ("rr", 7.9, RESIDENT, ("vital.rr.low", "high")),
    ("rr", 8.0, RESIDENT, None),
    ("rr", 25.0, RESIDENT, None),
    ("rr", 25.5, RESIDENT, ("vital.rr.high", "high")),
    ("temp", 34.9, RESIDENT, ("vital.temp.low", "high")),
    ("temp", 35.0, RESIDENT, None),
    ("temp", 39.5, RESIDENT, None),  # fever belongs to the baseline module
    ("sbp", 89.0, RESIDENT, ("vital.sbp.low", "high")),
    ("sbp", 90.0, RESIDENT, None),
    ("sbp", 180.0, RESIDENT, None),
    ("sbp", 181.0, RESIDENT, ("vital.sbp.high", "medium")),
    ("sbp", 221.0, RESIDENT, ("vital.sbp.high", "high")),
    ("dbp", 120.0, RESIDENT, None),
    ("dbp", 121.0, RESIDENT, ("vital.dbp.high", "medium")),
    ("dbp", 40.0, RESIDENT, None),  # no low diastolic limit by default
]


@pytest.mark.parametrize(
    ("metric", "value", "profile", "expected"),
    LIMITS,
    ids=[
        f"{m}-{v:g}-{'copd' if p is COPD else 'scale2' if p is SCALE2 else 'scale1'}"
        for m, v, p, _ in LIMITS
    ],
)
def test_limit_edges(
    metric: str, value: float, profile: ResidentProfile, expected: tuple[str, str] | None
) -> None:
    feed = Feed(profile)
    feed.hold(metric, value, 0, 600, step=5)  # past every default persistence
    raised = [(c.rule_id, c.severity) for c in feed.out if c.action == "raise"]
    assert raised == ([expected] if expected else [])
    assert all(c.action == "raise" for c in feed.out)  # held steady: nothing else happens


def test_candidate_shape() -> None:
    feed = Feed()
    [alert] = feed.hold("spo2", 88, 0, 20)
    assert alert.subject == "resident:7"
    assert alert.dedupe_key == "vital.spo2.low:resident:7"
    assert alert.ts == at(15)
    assert alert.title == "SpO2 below 90 %"
    assert alert.values == {
        "value": 88.0,
        "worst": 88.0,
        "limit": 90.0,
        "persisted_s": 15.0,
        "source": "vitals",
    }


@pytest.mark.parametrize(
    ("profile", "scale2"),
    [(RESIDENT, False), (COPD, False), (SCALE2, True)],
    ids=["plain", "copd-on-scale-1", "news2-scale-2"],
)
def test_scale2_selection(profile: ResidentProfile, scale2: bool) -> None:
    assert uses_scale2(profile) is scale2


# --- persistence -------------------------------------------------------------------------

PERSISTENCE = [
    # (metric, value, persistence_s)
    ("spo2", 88.0, 15),
    ("hr", 130.0, 60),
    ("rr", 30.0, 60),
    ("temp", 34.0, 300),
    ("sbp", 200.0, 300),
]


@pytest.mark.parametrize(
    ("metric", "value", "persistence_s"), PERSISTENCE, ids=[p[0] for p in PERSISTENCE]
)
def test_raises_only_after_persistence(metric: str, value: float, persistence_s: int) -> None:
    feed = Feed()
    assert feed.hold(metric, value, 0, persistence_s - 1) == []
    [alert] = feed(persistence_s, metric, value)
    assert alert.action == "raise" and alert.ts == at(persistence_s)


def test_single_outlier_does_not_page() -> None:
    feed = Feed()
    feed.hold("spo2", 97, 0, 100)
    feed(101, "spo2", 70)
    feed.hold("spo2", 97, 102, 300)
    assert feed.out == []


def test_broken_runs_do_not_add_up() -> None:
    feed = Feed()
    for start in range(0, 300, 20):  # 14 s low, 6 s fine, over and over
        feed.hold("spo2", 88, start, start + 13)
        feed.hold("spo2", 95, start + 14, start + 19)
    assert feed.out == []


def test_gap_resets_persistence() -> None:
    feed = Feed()
    feed.hold("spo2", 88, 0, 10)
    # 200 s of silence (> max_gap_s 120): the first 10 s are stale evidence.
    assert feed.hold("spo2", 88, 210, 224) == []
    [alert] = feed(225, "spo2", 88)
    assert alert.ts == at(225) and alert.values["persisted_s"] == 15.0


def test_sparse_readings_within_max_gap_persist() -> None:
    feed = Feed()
    assert feed(0, "hr", 130) == []
    [alert] = feed(60, "hr", 131)
    assert alert.rule_id == "vital.hr.high"


def test_per_metric_max_gap() -> None:
    # Periodic cuffs report every 15 min: sbp allows 30 min between readings by default.
    feed = Feed()
    assert feed(0, "sbp", 200) == []
    [alert] = feed(900, "sbp", 205)
    assert alert.rule_id == "vital.sbp.high"


def test_spot_readings_count_at_once() -> None:
    feed = Feed()
    [alert] = feed(0, "sbp", 85, source="manual")
    assert (alert.action, alert.rule_id, alert.values["persisted_s"]) == (
        "raise",
        "vital.sbp.low",
        0.0,
    )
    [clear] = feed(3600, "sbp", 101, source="fhir")  # >= 90 + margin 10 clears at once
    assert clear.action == "clear"


# --- hysteresis and clearing -------------------------------------------------------------


def test_oscillating_around_limit_raises_once_and_does_not_clear() -> None:
    feed = Feed()
    feed.hold("spo2", 88, 0, 20)
    feed.series("spo2", ((21 + i, 89.0 if i % 2 else 91.0) for i in range(600)))
    assert feed.actions() == [("raise", "vital.spo2.low", "high")]


def test_short_recoveries_do_not_clear() -> None:
    feed = Feed()
    for start in range(0, 600, 40):  # 20 s low, 20 s at 93 (< clear_after_s 30)
        feed.hold("spo2", 88, start, start + 19)
        feed.hold("spo2", 93, start + 20, start + 39)
    assert feed.actions() == [("raise", "vital.spo2.low", "high")]


def test_inside_hysteresis_band_stays_open() -> None:
    feed = Feed()
    feed.hold("spo2", 88, 0, 20)
    feed.hold("spo2", 91.9, 21, 400)  # above the limit, below limit + clear_margin
    assert [c.action for c in feed.out] == ["raise"]


def test_clears_after_sustained_recovery() -> None:
    feed = Feed()
    feed.hold("spo2", 86, 0, 20)
    assert feed.hold("spo2", 92, 21, 50) == []
    [cleared] = feed(51, "spo2", 92)
    [raised, _] = feed.out
    assert cleared.action == "clear"
    assert cleared.ts == at(51)  # 30 s (clear_after_s) after the first reading >= 92
    assert cleared.values["worst"] == 86.0
    assert cleared.values["open_s"] == 36.0
    assert cleared.severity == raised.severity
    assert feed.state.conditions == {}


def test_recovery_broken_by_gap_starts_over() -> None:
    feed = Feed()
    feed.hold("spo2", 86, 0, 20)
    feed.hold("spo2", 95, 21, 40)
    assert feed.hold("spo2", 95, 200, 229) == []  # gap: recovery restarts at 200
    [cleared] = feed(230, "spo2", 95)
    assert cleared.action == "clear"


def test_severity_rises_to_a_persisting_tier_and_never_falls() -> None:
    feed = Feed()
    feed.hold("spo2", 88, 0, 20)
    feed.hold("spo2", 83, 21, 30)  # 10 s in the critical tier: not yet
    assert [c.action for c in feed.out] == ["raise"]
    feed.hold("spo2", 83, 31, 40)
    feed.hold("spo2", 88, 41, 100)
    assert feed.actions() == [
        ("raise", "vital.spo2.low", "high"),
        ("update", "vital.spo2.low", "critical"),
    ]
    assert feed.out[1].ts == at(36) and feed.out[1].values["worst"] == 83.0
    feed.hold("spo2", 95, 101, 140)
    assert feed.out[-1].action == "clear" and feed.out[-1].severity == "critical"


def test_low_and_high_of_one_metric_are_separate() -> None:
    feed = Feed()
    feed.hold("hr", 39, 0, 70)
    feed.hold("hr", 140, 71, 200)
    assert feed.actions() == [
        ("raise", "vital.hr.low", "high"),
        ("clear", "vital.hr.low", "high"),
        ("raise", "vital.hr.high", "high"),
    ]


# --- suppression -------------------------------------------------------------------------


def test_suppressed_readings_never_raise_and_reset_pending() -> None:
    feed = Feed()
    feed.hold("spo2", 88, 0, 10)
    assert feed.hold("spo2", 80, 11, 100, suppressed=True) == []
    assert feed.state.conditions == {}
    assert feed.hold("spo2", 88, 101, 115) == []  # persistence counts from 101
    [alert] = feed(116, "spo2", 88)
    assert alert.ts == at(116)


def test_open_alerts_stay_open_while_suppressed() -> None:
    feed = Feed()
    feed.hold("spo2", 86, 0, 20)
    feed.hold("spo2", 97, 21, 40)  # recovering, not yet cleared (< 30 s)
    feed.hold("spo2", 97, 41, 1000, suppressed=True)
    assert [c.action for c in feed.out] == ["raise"]
    assert open_rules(feed.state) == {"vital.spo2.low"}
    # Back on the wrist: the recovery must be seen afresh for clear_after_s.
    assert feed.hold("spo2", 97, 1001, 1030) == []
    [cleared] = feed(1031, "spo2", 97)
    assert cleared.action == "clear"


def test_vitals_suppress_without_a_reading() -> None:
    feed = Feed()
    feed.hold("spo2", 86, 0, 20)  # open
    feed.hold("hr", 130, 0, 30)  # pending
    assert set(feed.state.conditions) == {"vital.spo2.low", "vital.hr.high"}
    feed.state = vitals_suppress(feed.state)
    assert set(feed.state.conditions) == {"vital.spo2.low"}
    assert open_rules(feed.state) == {"vital.spo2.low"}


# --- ordering and clocks -----------------------------------------------------------------


def test_out_of_order_readings_are_ignored() -> None:
    feed = Feed()
    feed.hold("spo2", 88, 100, 110)
    before = feed.state
    assert feed(50, "spo2", 99) == [] and feed.state is before  # late, would have reset it
    [alert] = feed.hold("spo2", 88, 111, 115)
    assert alert.ts == at(115)


def test_late_abnormal_reading_does_not_start_a_condition() -> None:
    feed = Feed()
    feed.hold("spo2", 97, 0, 100)
    feed(20, "spo2", 70)
    assert feed.state.conditions == {}
    assert feed.hold("spo2", 97, 101, 130) == []


def test_reading_from_the_future_is_ignored() -> None:
    feed = Feed()
    feed(3600, "spo2", 97, now=0)  # a device clock an hour ahead
    assert feed.state.last_seen == {}
    feed.hold("spo2", 88, 1, 20)
    assert [c.action for c in feed.out] == ["raise"]


# --- age: a reading counts from its own time ---------------------------------------------

H = 3600.0


def test_a_manual_reading_entered_hours_late_does_not_page() -> None:
    feed = Feed()
    # A round's SBP of 85 taken 9 h before it is entered: NEWS2 counts it stale (8 h).
    assert feed(0, "sbp", 85, source="manual", now=9 * H) == []
    assert open_rules(feed.state) == frozenset()
    # The same value entered within its freshness window pages at once.
    late = Feed()
    [alert] = late(0, "sbp", 85, source="manual", now=7 * H)
    assert (alert.action, alert.rule_id) == ("raise", "vital.sbp.low")


@pytest.mark.parametrize(
    ("metric", "value", "max_age_s"),
    [("spo2", 80, 600), ("hr", 30, 600), ("rr", 5, 600), ("temp", 34, 8 * H), ("sbp", 85, 8 * H)],
)
def test_freshness_edge_per_metric(metric: str, value: float, max_age_s: float) -> None:
    assert Feed()(0, metric, value, source="manual", now=max_age_s + 1) == []
    assert len(Feed()(0, metric, value, source="manual", now=max_age_s)) == 1


def test_a_device_backlog_is_evaluated_as_it_comes() -> None:
    # A Wi-Fi backlog: 90 s of SpO2 88 from 20 min ago, all taken in at once. It raises in
    # reading time; the alert service's late-data hold decides whether it pages.
    feed = Feed()
    [alert] = feed.hold("spo2", 88, 0, 90, step=5, now=1200)
    assert alert.action == "raise" and alert.values["persisted_s"] == 15.0


def test_an_old_manual_reading_does_not_escalate_an_open_alert_but_may_clear_it() -> None:
    feed = Feed()
    feed.hold("spo2", 88, 0, 20)  # open, high
    assert feed(21, "spo2", 80, source="manual", now=2000) == []  # old critical value
    assert feed.state.conditions["vital.spo2.low"].level == 0
    [clear] = feed(61, "spo2", 97, source="manual", now=2000)  # old recovery still ends it
    assert clear.action == "clear"


def test_max_age_is_configurable() -> None:
    cfg = with_overrides(CFG, {"sbp.max_age_s": 3600})
    assert Feed(config=cfg)(0, "sbp", 85, source="manual", now=2 * H) == []
    assert CFG.sbp.max_age_s is None and CFG.plan.scale1["sbp"].max_age == timedelta(hours=8)


def test_other_metrics_pass_through() -> None:
    feed = Feed()
    before = feed.state
    assert feed(0, "acvpu", 3) == [] and feed.state is before


def test_config_changing_shape_mid_episode() -> None:
    feed = Feed()
    feed.hold("spo2", 80, 0, 20)  # open at the critical tier
    feed.config = with_overrides(CFG, {"spo2.low.tiers": []})
    feed.hold("spo2", 80, 21, 30)
    feed.hold("spo2", 95, 31, 70)
    assert [c.action for c in feed.out] == ["raise", "clear"]
