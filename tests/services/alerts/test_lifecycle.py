"""Tests for services.alerts.lifecycle: the incident state machine, dedupe, grouping, clear."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import replace
from itertools import product

import pytest

from rules.types import Action, AlertCandidate
from services.alerts.effects import Effect, Record, SendAcknowledged, SendResolved, SendUpdate
from services.alerts.errors import (
    IllegalTransition,
    ResolutionError,
    UnknownAlert,
    UnknownSubject,
)
from services.alerts.lifecycle import (
    HISTORY_NOTE,
    acknowledge,
    acknowledge_incident,
    forget,
    resolve,
)
from services.alerts.model import (
    TRANSITIONS,
    AckEvent,
    AlertBook,
    ClearedEvent,
    ClosedEvent,
    CreatedEvent,
    Incident,
    IncidentStatus,
    NotifiedEvent,
    ResolvedEvent,
    UpdatedEvent,
    check_transition,
)
from services.careteam.errors import AlertConfigError
from services.careteam.policy import AlertsConfig
from tests.services.alerts.fakes import CONFIG, Ward, alerts_section, cand, pages, who

STATUSES: tuple[IncidentStatus, ...] = ("open", "notified", "escalated", "acknowledged", "resolved")
LEGAL = {
    ("open", "notified"),
    ("open", "acknowledged"),
    ("open", "resolved"),
    ("notified", "escalated"),
    ("notified", "acknowledged"),
    ("notified", "resolved"),
    ("escalated", "escalated"),
    ("escalated", "acknowledged"),
    ("escalated", "resolved"),
    ("acknowledged", "resolved"),
}
PAIRS = list(product(STATUSES, STATUSES))


def test_transition_table_is_the_documented_one() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_check_transition(source: IncidentStatus, target: IncidentStatus) -> None:
    if (source, target) in LEGAL:
        check_transition(5, source, target)
    else:
        with pytest.raises(IllegalTransition) as err:
            check_transition(5, source, target)
        assert (err.value.kind, err.value.ident) == ("incident", 5)
        assert (err.value.source, err.value.target) == (source, target)
        assert f"incident 5: illegal transition {source} → {target}" in str(err.value)


# -- driving an incident into each status ---------------------------------------------------


def ward_in(status: IncidentStatus) -> Ward:
    """Incident 1 (alert 1, a high fall of resident 1) brought to `status`. A new incident is
    paged at once, so "open" (the moment before its first page) is set by hand."""
    ward = Ward()
    if status == "open":
        ward.feed(cand())
        opened = replace(ward.incident(), status="open")
        ward.book = replace(ward.book, incidents={1: opened})
        return ward
    ward.feed(cand())
    if status == "escalated":
        ward.tick(120)
    elif status == "acknowledged":
        ward.book, _ = acknowledge(ward.book, 1, by="cg-day", via="web", now=ward.at(10))
    elif status == "resolved":
        ward.book, _ = resolve(ward.book, 1, by="cg-day", outcome="actionable", now=ward.at(10))
    assert ward.incident().status == status
    return ward


Op = Callable[[Ward], tuple[AlertBook, list[Effect]]]
OPS: dict[str, tuple[IncidentStatus, Op]] = {
    "ack": (
        "acknowledged",
        lambda w: acknowledge(w.book, 1, by="nurse", via="web", now=w.at(30)),
    ),
    "ack_incident": (
        "acknowledged",
        lambda w: acknowledge_incident(w.book, 1, by="nurse", via="sms", now=w.at(30)),
    ),
    "resolve": (
        "resolved",
        lambda w: resolve(w.book, 1, by="nurse", outcome="false_alarm", now=w.at(30)),
    ),
}
OP_CASES = list(product(STATUSES, OPS))


@pytest.mark.parametrize(("status", "op"), OP_CASES, ids=[f"{s}-{o}" for s, o in OP_CASES])
def test_staff_commands_in_every_status(status: IncidentStatus, op: str) -> None:
    ward = ward_in(status)
    target, command = OPS[op]
    if (status, target) in LEGAL:
        book, _ = command(ward)
        assert book.incidents[1].status == target
    else:
        with pytest.raises(IllegalTransition) as err:
            command(ward)
        assert err.value.target in (target, "acknowledged", "resolved")
        assert err.value.source in (status, "resolved")


def test_paging_moves_open_to_notified_then_escalated() -> None:
    ward = Ward()
    ward.feed(cand())
    assert ward.incident().status == "notified"
    ward.tick(119)
    assert ward.incident().status == "notified"
    ward.tick(120)
    assert ward.incident().status == "escalated"
    ward.tick(300)
    assert ward.incident().status == "escalated"
    assert ward.incident().escalation.step == 3


def test_acknowledged_and_resolved_incidents_are_never_paged() -> None:
    statuses: tuple[IncidentStatus, ...] = ("acknowledged", "resolved")
    for status in statuses:
        ward = ward_in(status)
        assert pages(ward.tick(3600)) == []
        assert ward.incident().status == status


# -- acknowledgement and resolution ---------------------------------------------------------


def test_acknowledge_tells_everyone_paged_and_records_who_and_how() -> None:
    ward = Ward()
    ward.feed(cand())
    ward.tick(120)
    book, effects = acknowledge(ward.book, 1, by="cn", via="ntfy", now=ward.at(125))
    inc = book.incidents[1]
    assert inc.acknowledgement is not None and inc.acknowledgement.by == "cn"
    assert isinstance(inc.timeline[-1], AckEvent) and inc.timeline[-1].via == "ntfy"
    sent = [e for e in effects if isinstance(e, SendAcknowledged)]
    assert [tuple(s.id for s in e.to) for e in sent] == [("cg-day", "cn")]


@pytest.mark.parametrize(
    ("outcome", "note", "message"),
    [
        (None, None, "needs an outcome"),
        ("", None, "needs an outcome"),
        ("fixed", None, "unknown outcome 'fixed'"),
        ("self_cleared", None, "unknown outcome 'self_cleared'"),
        ("actionable", "x" * 2001, "at most 2000"),
    ],
    ids=["none", "empty", "unknown", "system-only", "note-too-long"],
)
def test_resolve_needs_a_staff_outcome(outcome: str | None, note: str | None, message: str) -> None:
    ward = ward_in("acknowledged")
    with pytest.raises(ResolutionError, match=message):
        resolve(ward.book, 1, by="cg-day", outcome=outcome, note=note, now=ward.at(60))
    assert ward.incident().status == "acknowledged"


@pytest.mark.parametrize("outcome", ["actionable", "false_alarm", "already_attended"])
def test_resolve_records_outcome_and_note(outcome: str) -> None:
    ward = ward_in("acknowledged")
    book, effects = resolve(
        ward.book, 1, by="cg-day", outcome=outcome, note="  helped up, no injury ", now=ward.at(60)
    )
    inc = book.incidents[1]
    assert inc.status == "resolved"
    res = inc.alerts[0].resolution
    assert res is not None and (res.outcome, res.note, res.by) == (
        outcome,
        "helped up, no injury",
        "cg-day",
    )
    kinds = [type(e.event) for e in effects if isinstance(e, Record)]
    assert kinds == [ResolvedEvent, ClosedEvent]
    assert any(isinstance(e, SendResolved) and e.outcome == outcome for e in effects)
    assert "fall.device:resident:1" not in book.open_keys


def test_resolving_unacknowledged_alert_acknowledges_implicitly() -> None:
    ward = Ward()
    ward.feed(cand())
    book, _ = resolve(ward.book, 1, by="cg-day", outcome="false_alarm", now=ward.at(5))
    timeline = book.incidents[1].timeline
    acks = [e for e in timeline if isinstance(e, AckEvent)]
    assert [(a.by, a.via) for a in acks] == [("cg-day", "resolve")]


def test_incident_resolves_with_its_last_alert() -> None:
    ward = Ward()
    ward.feed(cand("fall.device", severity="critical"))
    ward.feed(cand("vital.hr.high", severity="medium", ts=5), now=5)
    book, _ = resolve(ward.book, 2, by="cg-day", outcome="false_alarm", now=ward.at(30))
    assert book.incidents[1].status == "acknowledged"
    with pytest.raises(IllegalTransition, match="alert 2: illegal transition resolved → resolved"):
        resolve(book, 2, by="cg-day", outcome="false_alarm", now=ward.at(31))
    with pytest.raises(IllegalTransition, match=r"alert 2: .*resolved → acknowledged"):
        acknowledge(book, 2, by="cg-day", via="web", now=ward.at(31))
    book, _ = resolve(book, 1, by="cg-day", outcome="actionable", now=ward.at(40))
    assert book.incidents[1].status == "resolved"


def test_unknown_ids() -> None:
    ward = Ward()
    with pytest.raises(UnknownAlert, match="no alert with id 9"):
        acknowledge(ward.book, 9, by="x", via="web", now=ward.at(0))


def test_forget_only_resolved_incidents() -> None:
    ward = ward_in("acknowledged")
    with pytest.raises(IllegalTransition, match="acknowledged → forgotten"):
        forget(ward.book, 1)
    book, _ = resolve(ward.book, 1, by="cg-day", outcome="actionable", now=ward.at(60))
    book = forget(book, 1)
    assert book.incidents == {} and book.alert_incident == {}
    with pytest.raises(UnknownAlert):
        acknowledge(book, 1, by="x", via="web", now=ward.at(61))


# -- repeats, severity, grouping ------------------------------------------------------------


def test_repeats_update_the_open_alert_without_paging() -> None:
    ward = Ward()
    first = ward.feed(cand("vital.spo2.low", severity="medium", spo2=89))
    assert len(pages(first)) == 1
    for n, t in enumerate((10, 20, 30), start=2):
        out = ward.feed(cand("vital.spo2.low", "update", severity="medium", ts=t, spo2=88), now=t)
        assert pages(out) == []
        assert [type(e.event) for e in out if isinstance(e, Record)] == [UpdatedEvent]
        assert ward.incident().alerts[0].count == n
    alert = ward.incident().alerts[0]
    assert alert.values == {"spo2": 88} and alert.last_ts == ward.at(30)
    assert len(ward.book.incidents) == 1 and ward.book.next_alert_id == 2


def test_severity_rise_pages_only_what_the_stricter_policy_adds() -> None:
    ward = Ward()
    ward.feed(cand("news2", severity="high"))  # step 1: the caregiver
    out = ward.feed(cand("news2", "update", severity="critical", ts=10), now=10)
    # Critical step 1 is caregiver + charge nurse: only the charge nurse is new.
    assert [(p.step, who(p), p.renotify) for p in pages(out)] == [(1, ("cn",), False)]
    updated = [e for e in ward.incident().timeline if isinstance(e, UpdatedEvent)]
    assert updated[-1].severity_raised and ward.incident().severity == "critical"
    # Severity never steps down while open.
    ward.feed(cand("news2", "update", severity="medium", ts=20), now=20)
    assert ward.incident().severity == "critical"


def test_severity_rise_after_acknowledgement_tells_the_people_paged() -> None:
    ward = ward_in("acknowledged")
    out = ward.feed(cand("fall.device", "update", severity="critical", ts=20), now=20)
    assert pages(out) == []
    updates = [e for e in out if isinstance(e, SendUpdate)]
    assert [(u.severity, tuple(s.id for s in u.to)) for u in updates] == [("critical", ("cg-day",))]


GROUPING = [
    # (second candidate's data time, same incident?)
    pytest.param(0, True, id="simultaneous"),
    pytest.param(119, True, id="inside"),
    pytest.param(120, True, id="edge"),
    pytest.param(121, False, id="outside"),
    pytest.param(-60, True, id="late-arrival-inside"),
    pytest.param(-121, False, id="late-arrival-outside"),
]


@pytest.mark.parametrize(("ts", "joined"), GROUPING)
def test_grouping_window(ts: float, joined: bool) -> None:
    ward = Ward()
    ward.feed(cand("fall.device", severity="high"))
    out = ward.feed(cand("vital.hr.high", severity="medium", ts=ts), now=max(ts, 0) + 1)
    assert len(ward.book.incidents) == (1 if joined else 2)
    created = [e.event for e in out if isinstance(e, Record) and isinstance(e.event, CreatedEvent)]
    assert created[0].joined is joined
    # Joining pages nobody new (time may have made step 2 or a renotification due).
    assert len([p for p in pages(out) if p.step == 1 and not p.renotify]) == (0 if joined else 1)


def test_fall_hr_spike_and_bed_exit_page_once_at_max_severity() -> None:
    ward = Ward()
    out = ward.feed(cand("bed.exit_night", severity="medium"))
    out += ward.feed(cand("fall.device", severity="critical", ts=3), now=3)
    out += ward.feed(cand("vital.hr.high", severity="medium", ts=4), now=4)
    inc = ward.incident()
    assert len(ward.book.incidents) == 1 and len(inc.alerts) == 3
    assert inc.severity == "critical"
    # The caregiver once, the charge nurse when the fall made it critical; nobody twice.
    assert [(p.step, who(p)) for p in pages(out)] == [(1, ("cg-day",)), (1, ("cn",))]
    assert ward.book.alert_incident == {1: 1, 2: 1, 3: 1}
    # Acknowledging any of its alerts acknowledges the incident.
    book, _ = acknowledge(ward.book, 3, by="cg-day", via="web", now=ward.at(10))
    assert book.incidents[1].status == "acknowledged"


def test_grouping_is_per_subject_and_audience_and_stops_at_acknowledgement() -> None:
    ward = Ward()
    ward.feed(cand("fall.device", resident=1))
    ward.feed(cand("fall.device", resident=2, ts=1), now=1)
    assert len(ward.book.incidents) == 2
    ward.book, _ = acknowledge(ward.book, 1, by="cg-day", via="web", now=ward.at(2))
    out = ward.feed(cand("vital.hr.high", resident=1, ts=3), now=3)
    assert len(ward.book.incidents) == 3 and len(pages(out)) == 1


# -- clear ----------------------------------------------------------------------------------


def test_clinical_clear_marks_condition_cleared_and_keeps_escalating() -> None:
    ward = Ward()
    ward.feed(cand("vital.spo2.low", severity="high"))
    out = ward.feed(cand("vital.spo2.low", "clear", ts=30), now=30)
    assert [type(e.event) for e in out if isinstance(e, Record)] == [ClearedEvent]
    inc = ward.incident()
    assert inc.alerts[0].condition_cleared and inc.status == "notified"
    assert ward.feed(cand("vital.spo2.low", "clear", ts=31), now=31) == []  # already cleared
    assert [p.step for p in pages(ward.tick(120))] == [1, 2]
    # It comes back: the same alert, marked as recurred, not a new page.
    out = ward.feed(cand("vital.spo2.low", severity="high", ts=130), now=130)
    assert pages(out) == []
    assert not ward.incident().alerts[0].condition_cleared
    assert isinstance(ward.incident().timeline[-1], UpdatedEvent)
    assert ward.incident().timeline[-1].recurred  # type: ignore[union-attr]


def test_device_clear_resolves_itself() -> None:
    ward = Ward()
    ward.feed(cand("device.battery_low", severity="low"))
    out = ward.feed(cand("device.battery_low", "clear", ts=600), now=600)
    inc = ward.incident()
    assert inc.status == "resolved"
    res = inc.alerts[0].resolution
    assert res is not None and (res.outcome, res.by) == ("self_cleared", "system")
    assert not any(isinstance(e.event, AckEvent) for e in out if isinstance(e, Record))
    assert ward.book.open_keys == {}
    # A new low battery later is a new alert.
    ward.feed(cand("device.battery_low", severity="low", ts=900), now=900)
    assert ward.book.open_keys == {"device.battery_low:resident:1": 2}


def test_clear_without_open_alert_is_ignored() -> None:
    ward = Ward()
    assert ward.feed(cand("vital.spo2.low", "clear")) == []
    assert ward.book.incidents == {}


def test_update_without_open_alert_opens_one() -> None:
    ward = Ward()
    out = ward.feed(cand("news2", "update", severity="medium"))
    assert len(pages(out)) == 1 and ward.incident().alerts[0].rule_id == "news2"


# -- subjects and config --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("resident:99", "does not place this resident"),
        ("resident:abc", "'resident:<id>'"),
        ("unit:site-a", "'unit:<site>/<unit>'"),
        ("room:3", "subjects are"),
    ],
    ids=["unknown-resident", "bad-resident", "bad-unit", "bad-kind"],
)
def test_unroutable_subjects_are_refused(subject: str, message: str) -> None:
    with pytest.raises(UnknownSubject, match=message):
        Ward().feed(cand(subject=subject))


def test_timeline_records_created_notified_escalated() -> None:
    ward = Ward()
    ward.feed(cand())
    ward.tick(120)
    incident = ward.incident()
    opened = incident.alert(1).opened_at
    # The alert's own events, and the incident's pages, escalations and acknowledgement since.
    timeline = [
        e for e in incident.timeline if e.alert_id == 1 or (e.alert_id is None and e.ts >= opened)
    ]
    kinds = [type(e).__name__ for e in timeline]
    assert kinds == [
        "CreatedEvent",
        "NotifiedEvent",
        "NotifiedEvent",
        "EscalatedEvent",
        "NotifiedEvent",
    ]
    notified = [e for e in ward.incident().timeline if isinstance(e, NotifiedEvent)]
    assert [(n.step, n.recipients, n.renotify) for n in notified] == [
        (1, ("cg-day",), False),
        (1, ("cg-day",), True),
        (2, ("cn",), False),
    ]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"grouping_window_s": -1}, "alerts.grouping_window_s"),
        ({"default_timezone": "Mars/Base"}, "alerts"),
        ({"self_clearing_rules": [""]}, "alerts"),
        ({"colour": "red"}, "alerts.colour"),
        (
            {"escalation": {"default": {"low": {"steps": []}}}},
            "alerts.escalation.default.low.steps",
        ),
    ],
    ids=["negative-window", "bad-zone", "empty-prefix", "unknown-key", "no-steps"],
)
def test_the_alerts_section_names_bad_keys(data: dict[str, object], key: str) -> None:
    with pytest.raises(AlertConfigError) as err:
        alerts_section(data)
    assert key in err.value.keys


def test_the_alerts_section_defaults() -> None:
    assert alerts_section({}) == AlertsConfig()
    assert alerts_section({"grouping_window_s": 60}).grouping_window_s == 60
    assert CONFIG.self_clearing("device.offline") and not CONFIG.self_clearing("fall.device")


# -- late data --------------------------------------------------------------------------------


def late(rule_id: str, action: Action = "raise", *, ts: float, arrived: float) -> AlertCandidate:
    """A candidate whose data (time `ts`) reached the detector at `arrived` (seconds)."""
    return replace(cand(rule_id, action, ts=ts, severity="high"), arrived_at=Ward().at(arrived))


def test_a_late_condition_that_ended_before_it_arrived_is_history_not_a_page() -> None:
    ward = Ward()
    day = 86400.0
    out = ward.feed(late("vital.spo2.low", ts=-2 * day, arrived=0))
    out += ward.feed(late("vital.spo2.low", "clear", ts=-2 * day + 60, arrived=0))
    assert pages(out) == [] and ward.run(3600, every=10) == []
    inc = ward.incident()
    res = inc.alerts[0].resolution
    assert inc.status == "resolved" and inc.paged == ()
    assert res is not None and (res.outcome, res.note) == ("self_cleared", HISTORY_NOTE)


def test_a_late_condition_still_open_after_the_hold_pages() -> None:
    ward = Ward()
    assert pages(ward.feed(late("vital.spo2.low", ts=-900, arrived=0))) == []
    assert ward.run(59) == []
    assert [(t, who(p)) for t, p in ward.run(60)] == [(60, ("cg-day",))]
    # Now paged, its end is an ordinary clear: a clinical alert stays until staff resolve it.
    ward.feed(late("vital.spo2.low", "clear", ts=-600, arrived=70), now=70)
    assert ward.incident().alerts[0].condition_cleared


def test_live_data_about_a_held_condition_pages_at_once() -> None:
    ward = Ward()
    ward.feed(late("vital.spo2.low", ts=-900, arrived=0))
    out = ward.feed(cand("vital.spo2.low", "update", ts=5), now=5)
    assert [who(p) for p in pages(out)] == [("cg-day",)]


@pytest.mark.parametrize(
    ("ts", "arrived", "held"),
    [(-299, 0, False), (-301, 0, True), (-3600, -3590, False)],
    ids=["within-threshold", "beyond-threshold", "arrived-on-time-long-ago"],
)
def test_late_is_data_time_against_arrival(ts: float, arrived: float, held: bool) -> None:
    ward = Ward()
    out = ward.feed(late("fall.device", ts=ts, arrived=arrived))
    assert (pages(out) == []) is held


def test_a_book_saved_before_holds_existed_loads_with_nothing_held() -> None:
    ward = Ward()
    ward.feed(cand("fall.device"))
    incident = ward.incident()
    legacy = Incident.__new__(Incident)
    state = incident.__getstate__()  # a slotted dataclass's: its field values, in order
    assert isinstance(state, list)
    legacy.__setstate__(state[:-1])
    assert legacy == incident and legacy.held_until is None
    assert pickle.loads(pickle.dumps(ward.book)) == ward.book
