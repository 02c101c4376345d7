"""Tests for services.alerts.escalation (who is paged when, fake clock) and the policy it reads,
services.careteam.policy."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from services.alerts.escalation import due_pages
from services.alerts.lifecycle import acknowledge
from services.careteam.errors import AlertConfigError
from services.careteam.policy import (
    CRITICAL,
    LOW,
    OUTBREAK,
    STANDARD,
    AlertsConfig,
    EscalationConfig,
    SeverityPolicy,
    Step,
    UnitPolicy,
    policy_for,
)
from services.careteam.roster import Roster, Shift, Staff
from tests.services.alerts.fakes import (
    CONFIG,
    RESIDENTS,
    ROSTER,
    SHIFTS,
    STAFF,
    TZ,
    Ward,
    alerts_section,
    cand,
    pages,
    who,
)


def schedule(ward: Ward, until: float) -> list[tuple[float, int, tuple[str, ...], bool]]:
    return [(t, p.step, who(p), p.renotify) for t, p in ward.run(until)]


def test_standard_escalation_timing_to_the_second() -> None:
    ward = Ward()
    first = pages(ward.feed(cand(severity="high")))
    assert [(p.step, who(p)) for p in first] == [(1, ("cg-day",))]
    assert schedule(ward, 360) == [
        (60, 1, ("cg-day",), True),
        (120, 1, ("cg-day",), True),
        (120, 2, ("cn",), False),  # step 2 two minutes after step 1
        (180, 1, ("cg-day",), True),
        (240, 1, ("cg-day",), True),
        (240, 2, ("cn",), True),  # charge nurse renotified every 120 s
        (300, 1, ("cg-day",), True),
        (300, 3, ("doc",), False),  # step 3 five minutes after step 1
        (360, 1, ("cg-day",), True),
        (360, 2, ("cn",), True),
    ]
    inc = ward.incident()
    assert inc.status == "escalated" and inc.escalation.step == 3
    assert [s.id for s in inc.paged] == ["cg-day", "cn", "doc"]


def test_late_ticks_keep_the_escalation_clock() -> None:
    ward = Ward()
    ward.feed(cand(severity="high"))
    # The service was busy: one tick at 301 s pages everything due since, at once.
    out = pages(ward.tick(301))
    assert [(p.step, p.renotify, (p.due_at - ward.start).total_seconds()) for p in out] == [
        (1, True, 0.0),
        (2, False, 120.0),
        (3, False, 300.0),
    ]


def test_renotify_never_twice_within_the_period() -> None:
    ward = Ward()
    ward.feed(cand(severity="high"))
    for t in (1, 30, 59, 59.9):
        assert pages(ward.tick(t)) == []
    assert [p.step for p in pages(ward.tick(60))] == [1]
    assert pages(ward.tick(60)) == []  # the same second again
    assert pages(ward.tick(119.5)) == []


def test_acknowledgement_stops_escalation() -> None:
    ward = Ward()
    ward.feed(cand(severity="high"))
    ward.run(90)
    ward.book, _ = acknowledge(ward.book, 1, by="cg-day", via="ntfy", now=ward.at(90))
    assert ward.run(1200, every=5) == []
    assert ward.incident().escalation.step == 1


def test_low_severity_pages_once() -> None:
    ward = Ward()
    assert len(pages(ward.feed(cand("vital.temp.low", severity="low")))) == 1
    assert ward.run(3600, every=10) == []


def test_critical_pages_caregiver_and_charge_nurse_together() -> None:
    ward = Ward()
    first = pages(ward.feed(cand(severity="critical")))
    assert [(p.step, who(p)) for p in first] == [(1, ("cg-day", "cn"))]
    assert schedule(ward, 120) == [
        (30, 1, ("cg-day", "cn"), True),
        (60, 1, ("cg-day", "cn"), True),
        (90, 1, ("cg-day", "cn"), True),
        (120, 1, ("cg-day", "cn"), True),
        (120, 2, ("doc",), False),
    ]


@pytest.mark.parametrize(
    ("include_earlier", "first_steps", "status"),
    [(True, [1, 2], "notified"), (False, [2], "notified")],
    ids=["several-steps-at-once", "skip-earlier"],
)
def test_start_at_a_later_step(include_earlier: bool, first_steps: list[int], status: str) -> None:
    policy = STANDARD.model_copy(update={"start_step": 2, "include_earlier": include_earlier})
    config = AlertsConfig(escalation=EscalationConfig(default=UnitPolicy(high=policy)))
    ward = Ward(config)
    out = pages(ward.feed(cand(severity="high")))
    assert [p.step for p in out] == first_steps
    assert ward.incident().status == status
    # Step 3 follows step 2's timeout (180 s), counted from the start.
    assert [(t, p.step) for t, p in ward.run(180) if not p.renotify] == [(180, 3)]
    assert ward.incident().status == "escalated"


def test_shift_change_at_night_during_escalation() -> None:
    # Raised at 21:58: the day caregiver; renotified at 21:59; after 22:00 the night one.
    ward = Ward(start=datetime(2026, 3, 9, 21, 58, tzinfo=TZ))
    assert [who(p) for p in pages(ward.feed(cand(severity="high")))] == [("cg-day",)]
    assert schedule(ward, 180) == [
        (60, 1, ("cg-day",), True),
        (120, 1, ("cg-night",), True),
        (120, 2, ("cn",), False),
        (180, 1, ("cg-night",), True),
    ]
    assert [s.id for s in ward.incident().paged] == ["cg-day", "cg-night", "cn"]


def test_escalation_across_midnight_keeps_the_monday_night_shift() -> None:
    # Night shifts on Monday only: Monday 23:59 → Tuesday 00:01 is still Monday's shift.
    night = Shift("cg-night", "site-a", time(22), time(7), frozenset({"unit-1"}), frozenset({0}))
    roster = Roster.of(STAFF, [night, *ROSTER.shifts[2:]], RESIDENTS)
    ward = Ward(roster=roster, start=datetime(2026, 3, 9, 23, 59, tzinfo=TZ))
    assert [who(p) for p in pages(ward.feed(cand(severity="high")))] == [("cg-night",)]
    assert schedule(ward, 60) == [(60, 1, ("cg-night",), True)]
    assert ward.now.weekday() == 1 and ward.now.hour == 0


def test_unstaffed_step_escalates_at_once() -> None:
    roster = Roster.of(STAFF, [Shift("cn", "site-a", time(0), time(0))], RESIDENTS)
    ward = Ward(roster=roster)
    out = pages(ward.feed(cand(severity="high")))
    assert [(p.step, who(p), p.missing) for p in out] == [
        (1, (), ("caregiver",)),
        (2, ("cn",), ()),
    ]
    assert ward.incident().status == "escalated"
    # Step 3 is then due 180 s after step 2 (no physician on duty either: reported missing).
    late = [(t, p.step, p.missing) for t, p in ward.run(180) if not p.renotify]
    assert late == [(180, 3, ("physician", "family_doctor"))]


def test_family_bed_resident_pages_family_then_family_doctor() -> None:
    ward = Ward()
    out = pages(ward.feed(cand("fall.device", resident=7, severity="critical")))
    assert [(p.step, who(p)) for p in out] == [(1, ("fam",))]
    assert schedule(ward, 120) == [
        (60, 1, ("fam",), True),
        (120, 1, ("fam",), True),
        (120, 2, ("fd",), False),
    ]


def test_a_family_beds_last_step_can_be_the_community_on_call_team() -> None:
    # Family, then the family doctor, then whoever of the community's on-call team is on
    # shift at the home's site.
    home = SeverityPolicy(
        steps=(
            Step(who=("resident_family",), timeout_s=120),
            Step(who=("family_doctor",), timeout_s=120),
            Step(who=("community_on_call",)),
        )
    )
    policy = UnitPolicy(low=home, medium=home, high=home, critical=home)
    config = AlertsConfig(escalation=EscalationConfig(sites={"home": policy}))
    on_call = Staff("oc", "Community on call", "community_on_call", ("ntfy://oc",))
    roster = Roster.of(
        [*STAFF, on_call], [*SHIFTS, Shift("oc", "home", time(0), time(0))], RESIDENTS
    )
    ward = Ward(config, roster)
    ward.feed(cand("fall.device", resident=7, severity="critical"))
    firsts = [(t, p.step, who(p)) for t, p in ward.run(300) if not p.renotify]
    assert firsts == [(120, 2, ("fd",)), (240, 3, ("oc",))]


def test_default_step_three_includes_linked_family_doctor() -> None:
    # A family-bed style resident placed in a nursing-home unit keeps the family doctor link.
    config = AlertsConfig()
    roster = Roster.of(
        STAFF,
        ROSTER.shifts,
        [
            r if r.resident_id != 7 else r.__class__(7, "site-a", "unit-1", family_doctors=("fd",))
            for r in RESIDENTS
        ],
    )
    ward = Ward(config, roster)
    ward.feed(cand(resident=7, severity="medium"))
    third = [p for t, p in ward.run(300) if p.step == 3]
    assert [who(p) for p in third] == [("doc", "fd")]


def test_outbreak_goes_to_infection_and_disease_control() -> None:
    ward = Ward()
    outbreak = cand(
        "outbreak.fever_cluster",
        subject="unit:site-a/unit-1",
        severity="high",
        audience="infection_control",
        residents=3,
    )
    out = pages(ward.feed(outbreak))
    assert [(p.step, who(p)) for p in out] == [(1, ("ic", "cdc"))]
    assert ward.incident().timezone == "Asia/Shanghai" and ward.incident().resident_id is None
    # No caregivers, no hourly spam before the hour.
    assert ward.run(3599, every=60) == []
    # A resident's alert in the same unit does not join the outbreak incident.
    ward.feed(cand(ts=10), now=3599)
    assert len(ward.book.incidents) == 2


def test_due_pages_is_empty_once_acknowledged() -> None:
    ward = Ward()
    ward.feed(cand())
    book, _ = acknowledge(ward.book, 1, by="x", via="web", now=ward.at(1))
    assert due_pages(book.incidents[1], STANDARD, ROSTER, ward.at(999)) == []


# -- policy configuration -------------------------------------------------------------------


def test_policy_precedence() -> None:
    unit = UnitPolicy(high=LOW)
    site = UnitPolicy(high=CRITICAL)
    config = EscalationConfig(sites={"site-a": site}, units={"site-a/unit-1": unit})
    assert policy_for(config, site="site-a", unit="unit-1", severity="high") == LOW
    assert policy_for(config, site="site-a", unit="unit-2", severity="high") == CRITICAL
    assert policy_for(config, site="site-b", unit="unit-1", severity="high") == STANDARD
    assert policy_for(config, site="site-b", unit=None, severity="low") == LOW
    got = policy_for(
        config, site="site-a", unit="unit-1", severity="low", audience="infection_control"
    )
    assert got == OUTBREAK
    unknown = policy_for(config, site="site-b", unit="u", severity="medium", audience="pharmacy")
    assert unknown == STANDARD


def test_defaults() -> None:
    policy = EscalationConfig().default.medium
    assert [s.who for s in policy.steps] == [
        ("caregiver",),
        ("charge_nurse",),
        ("physician", "family_doctor"),
    ]
    assert [s.timeout_s for s in policy.steps] == [120, 180, None]
    assert policy.steps[0].renotify_every_s == 60
    assert CONFIG.escalation.sites["home"].critical.steps[0].who == ("resident_family",)


BAD_POLICIES = [
    pytest.param({"default": {"high": {"steps": []}}}, "default.high.steps", id="no-steps"),
    pytest.param(
        {"default": {"high": {"steps": [{"who": ["caregiver"]}, {"who": ["physician"]}]}}},
        "default.high",
        id="unreachable-step",
    ),
    pytest.param(
        {"default": {"high": {"steps": [{"who": ["caregiver"], "timeout_s": 60}]}}},
        "default.high",
        id="timeout-on-last",
    ),
    pytest.param(
        {"default": {"high": {"steps": [{"who": ["caregiver"]}], "start_step": 2}}},
        "default.high",
        id="start-beyond-steps",
    ),
    pytest.param(
        {"default": {"low": {"steps": [{"who": ["janitor"]}]}}},
        "default.low.steps.0.who.0",
        id="unknown-target",
    ),
    pytest.param(
        {"default": {"low": {"steps": [{"who": []}]}}}, "default.low.steps.0.who", id="nobody"
    ),
    pytest.param(
        {"default": {"low": {"steps": [{"who": ["nurse", "nurse"]}]}}},
        "default.low.steps.0",
        id="duplicate-target",
    ),
    pytest.param(
        {"default": {"low": {"steps": [{"who": ["nurse"], "renotify_every_s": 0}]}}},
        "default.low.steps.0.renotify_every_s",
        id="zero-renotify",
    ),
    pytest.param({"units": {"unit-1": {}}}, "", id="unit-key-without-site"),
    pytest.param({"sites": {"a": {"urgent": {}}}}, "sites.a.urgent", id="unknown-severity"),
]


@pytest.mark.parametrize(("data", "key"), BAD_POLICIES)
def test_a_bad_policy_is_named_by_its_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(AlertConfigError) as err:
        alerts_section({"escalation": data})
    where = f"alerts.escalation.{key}" if key else "alerts.escalation"
    assert where in err.value.keys, err.value.problems


def test_a_policy_document_is_accepted() -> None:
    escalation = {
        "units": {
            "site-a/icu": {
                "high": {
                    "steps": [
                        {"who": ["nurse", "charge_nurse"], "timeout_s": 60},
                        {"who": ["physician"], "renotify_every_s": 120},
                    ]
                }
            }
        }
    }
    config = alerts_section({"escalation": escalation}).escalation
    policy = policy_for(config, site="site-a", unit="icu", severity="high")
    assert isinstance(policy, SeverityPolicy) and policy.steps[1] == Step(
        who=("physician",), renotify_every_s=120
    )


# -- technical (device) alerts ----------------------------------------------------------------


def test_device_offline_pages_the_caregiver_only_and_reminds_every_15_minutes() -> None:
    ward = Ward()
    first = pages(ward.feed(cand("device.offline", severity="high", device_id="w1")))
    assert [(p.step, who(p)) for p in first] == [(1, ("cg-day",))]
    later = schedule(ward, 3600)
    assert later == [(t, 1, ("cg-day",), True) for t in (900, 1800, 2700, 3600)]
    inc = ward.incident()
    assert inc.audience == "technical" and inc.escalation.step == 1


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_low_battery_is_queued_not_paged(severity: str) -> None:
    ward = Ward()
    assert pages(ward.feed(cand("device.battery_low", severity=severity))) == []  # type: ignore[arg-type]
    assert ward.run(3600, every=30) == []
    assert ward.incident().status == "open"  # on the board until the device is charged


def test_device_alerts_never_join_a_residents_clinical_incident() -> None:
    ward = Ward()
    ward.feed(cand("device.offline", severity="medium"))
    ward.feed(cand("fall.device", severity="high", ts=10), now=10)
    clinical = ward.incident(2)
    assert clinical.audience is None and [a.rule_id for a in clinical.alerts] == ["fall.device"]
    # The fall escalates to the physician as usual; the device incident does not.
    ward.run(400)
    assert ward.incident(2).escalation.step == 3
    assert ward.incident(1).escalation.step == 1


def test_an_offline_device_joining_a_queued_battery_alert_pages() -> None:
    ward = Ward()
    assert pages(ward.feed(cand("device.battery_low", severity="low"))) == []
    out = ward.feed(cand("device.offline", severity="medium", ts=30), now=30)
    assert [who(p) for p in pages(out)] == [("cg-day",)]


def test_the_device_route_is_configurable_but_never_reaches_a_physician() -> None:
    config = alerts_section(
        {
            "devices": {
                "page": {
                    "steps": [
                        {"who": ["caregiver"], "timeout_s": 600},
                        {"who": ["charge_nurse"], "renotify_every_s": 1800},
                    ]
                },
                "by_rule": {"device.battery_low": {"steps": [{"who": ["caregiver"]}]}},
            }
        }
    )
    ward = Ward(config=config)
    assert [who(p) for p in pages(ward.feed(cand("device.battery_low", severity="low")))] == [
        ("cg-day",)
    ]
    ward.feed(cand("device.offline", resident=2, severity="medium"))
    assert [(t, who(p)) for t, p in ward.run(600, every=10)] == [(600, ("cn",))]
    for bad in (
        {"page": {"steps": [{"who": ["caregiver", "physician"]}]}},
        {"by_rule": {"device.offline": {"steps": [{"who": ["family_doctor"]}]}}},
        {"rules": [""]},
    ):
        with pytest.raises(AlertConfigError, match="devices"):
            alerts_section({"devices": bad})


def test_a_technician_on_shift_can_take_the_technical_queue() -> None:
    tech = Staff("tech", "Ma Tech", "technician", ("ntfy://tech",))
    roster = Roster.of(
        (*STAFF, tech), (*SHIFTS, Shift("tech", "site-a", time(8), time(18))), RESIDENTS
    )
    config = alerts_section(
        {"devices": {"page": {"steps": [{"who": ["technician", "caregiver"]}]}}}
    )
    ward = Ward(config=config, roster=roster)
    first = pages(ward.feed(cand("device.wear_off", severity="medium")))
    assert [who(p) for p in first] == [("tech", "cg-day")]
    # A clinical alert never reaches the technician: the clinical policy has no such step.
    ward.feed(cand("fall.device", resident=2))
    assert all("tech" not in who(p) for _, p in ward.run(600, every=10))
