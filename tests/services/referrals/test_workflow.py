from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pydantic
import pytest

from rules.types import Vital
from services.errors import CareWatchError
from services.referrals.errors import (
    IllegalTransition,
    InvalidReferral,
    NotPermitted,
    ReferralError,
)
from services.referrals.model import (
    STATES,
    TRANSITIONS,
    Actor,
    Audit,
    Effect,
    Notify,
    Referral,
    ReferralConfig,
    SlaFired,
    State,
)
from services.referrals.workflow import (
    open_request,
    record_sla,
    sla_tick,
    suggest,
    transition,
    vitals_snapshot,
)
from tests.services.referrals.builders import (
    CAREGIVER,
    DOCTOR,
    HIS,
    HOSPITAL,
    HOSPITAL_NURSE,
    NURSE,
    PATHS,
    RESIDENT,
    T0,
    in_state,
    news2,
    requested_by_hand,
    snapshot,
    suggested,
)

LEGAL = [(a, b) for a in STATES for b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a in STATES for b in STATES if b not in TRANSITIONS[a]]
# Someone allowed to take each step.
ACTOR_FOR: dict[State, Actor] = {
    "requested": NURSE,
    "dismissed": NURSE,
    "cancelled": NURSE,
    "in_transit": CAREGIVER,
    "returned": CAREGIVER,
    "accepted": DOCTOR,
    "declined": HIS,
    "admitted": HOSPITAL_NURSE,
}


def test_the_machine_is_the_documented_one() -> None:
    assert set(LEGAL) == {
        ("suggested", "requested"),
        ("suggested", "dismissed"),
        ("requested", "accepted"),
        ("requested", "declined"),
        ("requested", "cancelled"),
        ("accepted", "in_transit"),
        ("accepted", "cancelled"),
        ("in_transit", "admitted"),
        ("in_transit", "cancelled"),
        ("admitted", "returned"),
    }
    assert len(LEGAL) + len(ILLEGAL) == len(STATES) ** 2
    assert "admitted" not in [a for a, b in LEGAL if b == "cancelled"]


@pytest.mark.parametrize(("from_state", "to_state"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_every_legal_transition(from_state: State, to_state: State) -> None:
    referral = in_state(from_state)
    at = referral.updated_at + timedelta(minutes=1)
    actor = ACTOR_FOR[to_state]
    moved, effects = transition(referral, to_state, actor=actor, now=at, note=" why ")
    assert moved.state == to_state
    assert referral.state == from_state  # frozen: the old one is untouched
    last = moved.history[-1]
    assert (last.from_state, last.to_state, last.at, last.actor, last.note) == (
        from_state,
        to_state,
        at,
        actor,
        "why",
    )
    audit = next(e for e in effects if isinstance(e, Audit))
    assert (audit.staff_id, audit.role, audit.side, audit.from_state, audit.to_state) == (
        actor.staff_id,
        actor.role,
        actor.side,
        from_state,
        to_state,
    )
    notify = next(e for e in effects if isinstance(e, Notify))
    assert notify.template == f"referral.{to_state}"
    assert notify.parties
    assert ("note", "why") in notify.context


@pytest.mark.parametrize(("from_state", "to_state"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_every_illegal_transition_is_refused(from_state: State, to_state: State) -> None:
    referral = in_state(from_state)
    actor = ACTOR_FOR.get(to_state, NURSE)
    with pytest.raises(IllegalTransition) as info:
        transition(referral, to_state, actor=actor, now=T0 + timedelta(days=1), note="x")
    err = info.value
    assert (err.referral_id, err.from_state, err.to_state) == ("ref-1", from_state, to_state)
    assert err.allowed == TRANSITIONS[from_state]
    assert repr(from_state) in str(err) and repr(to_state) in str(err)
    assert "allowed next states" in str(err)
    assert isinstance(err, ReferralError) and isinstance(err, CareWatchError)


def test_final_state_error_says_so() -> None:
    with pytest.raises(IllegalTransition, match="none: it is a final state"):
        transition(in_state("returned"), "cancelled", actor=NURSE, now=T0 + timedelta(days=1))


HOSPITAL_STEPS = [("requested", "accepted"), ("requested", "declined"), ("in_transit", "admitted")]
CARE_STEPS = [
    ("suggested", "requested"),
    ("suggested", "dismissed"),
    ("requested", "cancelled"),
    ("accepted", "cancelled"),
    ("in_transit", "cancelled"),
    ("accepted", "in_transit"),
    ("admitted", "returned"),
]


@pytest.mark.parametrize(
    ("from_state", "to_state"), HOSPITAL_STEPS, ids=[f"{a}->{b}" for a, b in HOSPITAL_STEPS]
)
@pytest.mark.parametrize("role", ["nurse", "physician", "caregiver", "admin", "integrator"])
def test_care_side_never_takes_hospital_steps(
    from_state: State, to_state: State, role: str
) -> None:
    actor = Actor("n-9", role, "care")  # type: ignore[arg-type]
    with pytest.raises(NotPermitted, match="only the receiving hospital") as info:
        transition(
            in_state(from_state), to_state, actor=actor, now=T0 + timedelta(hours=1), note="x"
        )
    assert info.value.required_side == "hospital" and info.value.side == "care"


@pytest.mark.parametrize(
    ("from_state", "to_state"), CARE_STEPS, ids=[f"{a}->{b}" for a, b in CARE_STEPS]
)
@pytest.mark.parametrize("role", ["nurse", "physician", "caregiver", "admin", "integrator"])
def test_hospital_side_never_takes_care_steps(
    from_state: State, to_state: State, role: str
) -> None:
    actor = Actor("h-9", role, "hospital")  # type: ignore[arg-type]
    with pytest.raises(NotPermitted, match="only the care setting"):
        transition(
            in_state(from_state), to_state, actor=actor, now=T0 + timedelta(hours=1), note="x"
        )


@pytest.mark.parametrize(
    ("from_state", "to_state", "actor"),
    [
        ("suggested", "requested", CAREGIVER),  # a nurse confirms, not a caregiver
        ("requested", "cancelled", CAREGIVER),
        ("requested", "accepted", Actor("h-admin", "admin", "hospital")),
        ("suggested", "dismissed", Actor("a-1", "admin", "care")),
    ],
    ids=["caregiver-confirms", "caregiver-cancels", "hospital-admin-accepts", "admin-dismisses"],
)
def test_roles_are_checked_within_a_side(from_state: State, to_state: State, actor: Actor) -> None:
    with pytest.raises(NotPermitted) as info:
        transition(
            in_state(from_state), to_state, actor=actor, now=T0 + timedelta(hours=1), note="x"
        )
    assert actor.role in str(info.value) and actor.staff_id in str(info.value)
    assert actor.role not in info.value.allowed_roles


@pytest.mark.parametrize("to_state", ["dismissed", "declined", "cancelled"])
def test_ending_steps_need_a_note(to_state: State) -> None:
    source = {"dismissed": "suggested", "declined": "requested", "cancelled": "accepted"}
    referral = in_state(source[to_state])  # type: ignore[arg-type]
    with pytest.raises(InvalidReferral, match="needs a note"):
        transition(referral, to_state, actor=ACTOR_FOR[to_state], now=T0 + timedelta(hours=1))


def test_time_must_not_go_backwards_or_be_naive() -> None:
    referral = in_state("requested")
    with pytest.raises(InvalidReferral, match="before its last step"):
        transition(referral, "accepted", actor=DOCTOR, now=T0)
    with pytest.raises(InvalidReferral, match="timezone-aware"):
        transition(referral, "accepted", actor=DOCTOR, now=datetime(2026, 3, 1, 9))  # noqa: DTZ001


def test_suggestion_carries_the_snapshot_and_notifies_the_unit() -> None:
    vitals = snapshot()
    referral, effects = suggest(
        referral_id="ref-9",
        resident=RESIDENT,
        hospital=HOSPITAL,
        reason="NEWS2 8",
        trigger="news2",
        vitals=vitals,
        news2=news2(vitals),
        alerts=[],
        now=T0,
    )
    assert referral.state == "suggested" and referral.created_at == T0
    assert referral.history[0].actor is None and referral.requester is None
    assert len(referral.vitals) == len(vitals)
    assert [v.ts for v in referral.vitals] == sorted(v.ts for v in vitals)
    assert referral.news2 is not None and referral.news2.total == 8
    audit, notify = effects
    assert isinstance(audit, Audit) and audit.staff_id is None and audit.from_state is None
    assert isinstance(notify, Notify) and notify.parties == ("unit", "charge_nurse")
    assert ("news2", "8") in notify.context


def test_confirming_records_the_requester() -> None:
    referral, effects = transition(
        suggested(), "requested", actor=NURSE, now=T0 + timedelta(minutes=3)
    )
    assert referral.requester == NURSE
    assert referral.entered("requested") == T0 + timedelta(minutes=3)
    notify = next(e for e in effects if isinstance(e, Notify))
    assert "hospital" in notify.parties and notify.urgent


def test_rules_suggest_only_on_news2_7_or_a_fall() -> None:
    calm = [v for v in snapshot() if v.ts < T0 - timedelta(hours=2)]
    calm_now = T0 - timedelta(hours=2, minutes=1)
    kwargs = dict(resident=RESIDENT, hospital=HOSPITAL, reason="x", alerts=[], now=calm_now)
    with pytest.raises(InvalidReferral, match="NEWS2 >= 7"):
        suggest(
            referral_id="r",
            trigger="news2",
            vitals=calm,
            news2=news2(calm, calm_now),
            **kwargs,  # type: ignore[arg-type]
        )
    with pytest.raises(InvalidReferral, match="fall alert"):
        suggest(referral_id="r", trigger="fall", vitals=[], news2=None, **kwargs)  # type: ignore[arg-type]


def test_opening_by_hand_checks_who_and_what() -> None:
    referral = requested_by_hand()
    assert referral.state == "requested" and referral.trigger == "staff"
    assert referral.requester == NURSE
    base = dict(
        referral_id="r", resident=RESIDENT, hospital=HOSPITAL, vitals=[], news2=None, alerts=[]
    )
    with pytest.raises(NotPermitted):
        open_request(reason="x", actor=DOCTOR, now=T0, **base)  # type: ignore[arg-type]
    with pytest.raises(InvalidReferral, match="reason"):
        open_request(reason="  ", actor=NURSE, now=T0, **base)  # type: ignore[arg-type]
    old = Vital(T0 - timedelta(hours=25), "hr", 80.0, "vitals")
    with pytest.raises(InvalidReferral, match="snapshot"):
        open_request(reason="x", actor=NURSE, now=T0, **{**base, "vitals": [old]})  # type: ignore[arg-type]
    with pytest.raises(InvalidReferral, match="no name"):
        open_request(
            reason="x",
            actor=NURSE,
            now=T0,
            **{**base, "resident": replace(RESIDENT, name="")},  # type: ignore[arg-type]
        )


def test_vitals_snapshot_keeps_the_last_24_hours() -> None:
    readings = [Vital(T0 - timedelta(hours=h), "hr", 70.0 + h, "vitals") for h in range(30)]
    kept = vitals_snapshot(readings, now=T0)
    assert [v.value for v in kept] == [70.0 + h for h in range(24, -1, -1)]


def test_actor_is_validated() -> None:
    with pytest.raises(InvalidReferral, match="side"):
        Actor("x", "nurse", "ward")  # type: ignore[arg-type]
    with pytest.raises(InvalidReferral, match="role"):
        Actor("x", "porter", "care")  # type: ignore[arg-type]
    with pytest.raises(InvalidReferral, match="staff_id"):
        Actor(" ", "nurse", "care")


def test_config_is_validated_with_clear_errors() -> None:
    with pytest.raises(pydantic.ValidationError, match="hospital_answer_s"):
        ReferralConfig(hospital_answer_s=0)
    with pytest.raises(pydantic.ValidationError, match="faster than a transfer"):
        ReferralConfig(hospital_answer_s=7200, transit_admit_s=3600)
    with pytest.raises(pydantic.ValidationError, match="extra"):
        ReferralConfig.model_validate({"hospital_answer": 60})


# --- SLA timers with a fake clock ------------------------------------------------------------


def run_clock(
    referral: Referral, start: datetime, end: datetime, step: timedelta
) -> tuple[Referral, list[tuple[datetime, Effect]]]:
    """Tick from `start` to `end` like the I/O layer: record fired timers after each tick."""
    fired: list[tuple[datetime, Effect]] = []
    now = start
    while now <= end:
        effects = sla_tick(referral, now, ReferralConfig())
        referral = record_sla(referral, effects)
        fired += [(now, e) for e in effects]
        now += step
    return referral, fired


def test_no_answer_escalates_once_at_15_minutes() -> None:
    referral = in_state("requested")
    requested_at = referral.updated_at
    assert sla_tick(referral, requested_at + timedelta(minutes=14, seconds=59)) == []
    referral, fired = run_clock(
        referral, requested_at, requested_at + timedelta(hours=2), timedelta(seconds=10)
    )
    notifies = [(t, e) for t, e in fired if isinstance(e, Notify)]
    assert len(notifies) == 1
    at, notify = notifies[0]
    assert isinstance(notify, Notify)
    assert at == requested_at + timedelta(minutes=15)
    assert notify.template == "referral.escalate.no_answer" and notify.urgent
    assert set(notify.parties) == {"charge_nurse", "physician", "hospital"}
    assert referral.sla_fired == frozenset({"hospital_answer"})
    assert any(
        isinstance(e, Audit) and e.action == "referral.sla.hospital_answer" for _, e in fired
    )


def test_an_answer_stops_the_escalation_timer() -> None:
    referral = in_state("requested")
    answered, _ = transition(
        referral, "accepted", actor=DOCTOR, now=referral.updated_at + timedelta(minutes=10)
    )
    _, fired = run_clock(
        answered,
        answered.updated_at,
        answered.updated_at + timedelta(hours=3),
        timedelta(minutes=1),
    )
    assert fired == []
    for state in ("declined", "cancelled", "admitted", "returned", "dismissed"):
        done = in_state(state)
        assert sla_tick(done, done.updated_at + timedelta(days=2)) == []


def test_without_recording_the_timer_would_fire_again() -> None:
    referral = in_state("requested")
    late = referral.updated_at + timedelta(minutes=20)
    effects = sla_tick(referral, late)
    assert [type(e) for e in effects] == [Audit, Notify, SlaFired]
    assert sla_tick(record_sla(referral, effects), late) == []


def test_in_transit_reminds_every_period_until_admitted() -> None:
    referral = in_state("in_transit")
    left = referral.updated_at
    referral, fired = run_clock(referral, left, left + timedelta(hours=9), timedelta(minutes=1))
    reminders = [t for t, e in fired if isinstance(e, Notify)]
    assert reminders == [left + timedelta(hours=4), left + timedelta(hours=8)]
    assert referral.sla_fired == {"transit_admit:1", "transit_admit:2"}


def test_unconfirmed_suggestion_reminds_once() -> None:
    referral = suggested()
    _, fired = run_clock(referral, T0, T0 + timedelta(hours=1), timedelta(minutes=1))
    reminders = [(t, e) for t, e in fired if isinstance(e, Notify)]
    assert [t for t, _ in reminders] == [T0 + timedelta(minutes=10)]
    assert reminders[0][1].template == "referral.remind.unconfirmed"


def test_every_path_in_builders_is_legal() -> None:
    for state in PATHS:
        assert in_state(state).state == state


# --- referral kinds (issue 17) --------------------------------------------------------------


def test_a_planned_referral_has_its_own_answer_time_and_pages_no_one_at_night() -> None:
    config = ReferralConfig(hospital_answer_s=900, planned_answer_s=86_400)
    referral, effects = open_request(
        referral_id="ref-planned",
        resident=RESIDENT,
        hospital=HOSPITAL,
        reason="cataract review",
        vitals=snapshot(),
        news2=None,
        alerts=[],
        actor=NURSE,
        now=T0,
        kind="appointment",
        config=config,
    )
    assert referral.kind == "appointment"
    assert [e.urgent for e in effects if isinstance(e, Notify)] == [False]
    # The green channel's 15 minutes do not apply; the planned day does.
    assert sla_tick(referral, T0 + timedelta(hours=23), config) == []
    fired = sla_tick(referral, T0 + timedelta(hours=24, seconds=1), config)
    assert [e.timer for e in fired if isinstance(e, SlaFired)] == ["hospital_answer"]
    assert [e.urgent for e in fired if isinstance(e, Notify)] == [False]


def test_an_emergency_keeps_the_green_channel_time() -> None:
    config = ReferralConfig(hospital_answer_s=900, planned_answer_s=86_400)
    referral = requested_by_hand()
    assert referral.kind == "emergency"
    fired = sla_tick(referral, referral.updated_at + timedelta(seconds=901), config)
    assert [e.urgent for e in fired if isinstance(e, Notify)] == [True]


def test_staff_do_not_open_a_return() -> None:
    with pytest.raises(InvalidReferral, match="staff open emergency"):
        open_request(
            referral_id="ref-r",
            resident=RESIDENT,
            hospital=HOSPITAL,
            reason="back home",
            vitals=[],
            news2=None,
            alerts=[],
            actor=NURSE,
            now=T0,
            kind="return",
        )
