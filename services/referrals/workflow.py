"""The green-channel referral state machine: typed referral in, new referral and effects out.

Pure: no I/O, no logging, no clock (`now` is a parameter). Effects (`Notify`, `Audit`,
`SlaFired`) are what the I/O layer must do or persist; nothing here sends or stores anything.

    suggested ──▶ requested ──▶ accepted ──▶ in_transit ──▶ admitted ──▶ returned
        │             │  │          │             │
        ▼             │  ▼          ▼             ▼
    dismissed         │ declined  cancelled    cancelled
                      ▼
                  cancelled

A rule opens a *suggestion* (NEWS2 >= 7, a fall with suspected injury) that a nurse confirms
into a request or dismisses; staff may also open a request by hand. The receiving hospital
accepts, declines and admits; the care setting requests, confirms, cancels (until admission),
marks the resident in transit and records the return for rehabilitation.

The values it works on (states, permissions, the referral, its effects) are in `model.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final, Literal, get_args

from rules.news2 import News2Result
from rules.types import Vital
from services.referrals.errors import IllegalTransition, InvalidReferral, NotPermitted
from services.referrals.model import (
    DEFAULT_CONFIG,
    NEWS2_REFERRAL_THRESHOLD,
    NOTE_REQUIRED,
    PERMISSIONS,
    RETURN_PERMISSION,
    TRANSITIONS,
    ActiveAlert,
    Actor,
    Audit,
    Effect,
    Hospital,
    Notify,
    Party,
    ReasonCode,
    Referral,
    ReferralConfig,
    Resident,
    Sex,
    SlaFired,
    State,
    TransitionRecord,
    Trigger,
)
from services.referrals.routing import OUTWARD, URGENT, Kind

_NOTIFY: Final[Mapping[State, tuple[tuple[Party, ...], bool]]] = {
    # state entered: (parties, urgent)
    "suggested": (("unit", "charge_nurse"), True),
    "requested": (("hospital", "unit"), True),
    "dismissed": (("unit",), False),
    "accepted": (("requester", "unit"), True),
    # Someone must find another hospital now.
    "declined": (("requester", "charge_nurse", "physician"), True),
    "in_transit": (("hospital",), True),
    "admitted": (("requester", "unit"), False),
    "returned": (("unit", "physician"), False),
    "cancelled": (("hospital", "unit"), False),
}
_MAX_TEXT: Final = 2000


# --- opening -------------------------------------------------------------------------------


def vitals_snapshot(
    readings: Iterable[Vital], *, now: datetime, config: ReferralConfig = DEFAULT_CONFIG
) -> tuple[Vital, ...]:
    """The readings a referral opened at `now` carries: those in the snapshot window before
    `now` (and up to `max_future_s` after it), oldest first."""
    _require_aware("now", now)
    start = now - timedelta(seconds=config.snapshot_window_s)
    end = now + timedelta(seconds=config.max_future_s)
    kept = []
    for v in readings:
        _require_aware(f"vital {v.metric} ts", v.ts)
        if start <= v.ts <= end:
            kept.append(v)
    return tuple(sorted(kept, key=lambda v: (v.ts, v.metric)))


def suggest(
    *,
    referral_id: str,
    resident: Resident,
    hospital: Hospital,
    reason: str,
    trigger: Literal["news2", "fall"],
    vitals: Sequence[Vital],
    news2: News2Result | None,
    alerts: Sequence[ActiveAlert],
    now: datetime,
    config: ReferralConfig = DEFAULT_CONFIG,
    reason_code: ReasonCode | None = None,
) -> tuple[Referral, list[Effect]]:
    """A rule opens a suggestion: NEWS2 >= 7 (`trigger="news2"`, `news2` required) or a fall
    with suspected injury (`trigger="fall"`, a `fall*` alert among `alerts`). `reason_code`
    puts the reason in each reader's words; `reason` is the text kept beside it."""
    if trigger == "news2":
        score = _news2_score(news2)
        if score is None or score < NEWS2_REFERRAL_THRESHOLD:
            raise InvalidReferral(
                f"referral {referral_id}: a NEWS2 suggestion needs NEWS2 >= "
                f"{NEWS2_REFERRAL_THRESHOLD}, got {score}"
            )
    elif trigger == "fall":
        if not any(a.rule_id.startswith("fall") for a in alerts):
            raise InvalidReferral(
                f"referral {referral_id}: a fall suggestion needs an active fall alert"
            )
    else:
        raise InvalidReferral(f"referral {referral_id}: rules suggest on news2 or fall only")
    referral = _new(
        referral_id,
        resident,
        hospital,
        reason,
        trigger,
        vitals,
        news2,
        alerts,
        now,
        config,
        state="suggested",
        actor=None,
        note="",
    )
    referral = replace(referral, reason_code=reason_code)
    return referral, _effects(referral, None, "suggested", None, now, "", "opened")


def open_request(
    *,
    referral_id: str,
    resident: Resident,
    hospital: Hospital,
    reason: str,
    vitals: Sequence[Vital],
    news2: News2Result | None,
    alerts: Sequence[ActiveAlert],
    actor: Actor,
    now: datetime,
    note: str = "",
    config: ReferralConfig = DEFAULT_CONFIG,
    kind: Kind = "emergency",
) -> tuple[Referral, list[Effect]]:
    """Care-setting staff open a referral of `kind` (not a return: the hospital side opens
    those, `returns.py`) by hand: it starts as `requested`."""
    _check_permission(referral_id, "requested", actor)
    if kind not in OUTWARD:
        raise InvalidReferral(f"referral {referral_id}: staff open {', '.join(OUTWARD)}")
    referral = _new(
        referral_id,
        resident,
        hospital,
        reason,
        "staff",
        vitals,
        news2,
        alerts,
        now,
        config,
        state="requested",
        actor=actor,
        note=_note(referral_id, note),
    )
    referral = replace(referral, kind=kind)
    return referral, _effects(referral, None, "requested", actor, now, note, "opened")


def open_return(
    *,
    referral_id: str,
    resident: Resident,
    hospital: Hospital,
    reason: str,
    actor: Actor,
    now: datetime,
    note: str = "",
) -> tuple[Referral, list[Effect]]:
    """The hospital side sends the resident back (a downward referral): the return is recorded
    as arrived (`returned`, a final state) and the unit, charge nurse and physician are told.
    Raises NotPermitted (not the hospital side, or a role that may not) or InvalidReferral."""
    allowed = RETURN_PERMISSION
    if actor.side != allowed.side or actor.role not in allowed.roles:
        raise NotPermitted(
            referral_id,
            "returned",
            staff_id=actor.staff_id,
            role=actor.role,
            side=actor.side,
            required_side=allowed.side,
            allowed_roles=sorted(allowed.roles),
        )
    note = _note(referral_id, note)
    referral = _new(
        referral_id, resident, hospital, reason, "hospital", [], None, [], now, DEFAULT_CONFIG,
        state="returned", actor=actor, note=note,
    )  # fmt: skip
    referral = replace(referral, kind="return")
    effects = _effects(referral, None, "returned", actor, now, note, "opened")
    # Its own words ("back from hospital with a discharge summary") and more people to tell.
    return referral, [
        replace(e, template="referral.return", parties=("unit", "charge_nurse", "physician"))
        if isinstance(e, Notify)
        else e
        for e in effects
    ]


def _new(
    referral_id: str,
    resident: Resident,
    hospital: Hospital,
    reason: str,
    trigger: Trigger,
    vitals: Sequence[Vital],
    news2: News2Result | None,
    alerts: Sequence[ActiveAlert],
    now: datetime,
    config: ReferralConfig,
    *,
    state: State,
    actor: Actor | None,
    note: str,
) -> Referral:
    _require_aware("now", now)
    if not 1 <= len(referral_id) <= 128 or not referral_id.isprintable() or referral_id.isspace():
        raise InvalidReferral(f"referral id must be 1-128 printable characters: {referral_id!r}")
    reason = reason.strip()
    if not reason or len(reason) > _MAX_TEXT:
        raise InvalidReferral(
            f"referral {referral_id}: reason must be 1-{_MAX_TEXT} characters of text"
        )
    _check_resident(referral_id, resident, now)
    _check_hospital(referral_id, hospital)
    start = now - timedelta(seconds=config.snapshot_window_s)
    end = now + timedelta(seconds=config.max_future_s)
    for v in vitals:
        _require_aware(f"vital {v.metric} ts", v.ts)
        if not start <= v.ts <= end or not math.isfinite(v.value):
            raise InvalidReferral(
                f"referral {referral_id}: vital {v.metric}={v.value!r} at {v.ts.isoformat()} "
                f"is outside the {config.snapshot_window_s:g} s snapshot before "
                f"{now.isoformat()} (use vitals_snapshot to select it)"
            )
    for a in alerts:
        _require_aware(f"alert {a.rule_id} ts", a.ts)
    if news2 is not None:
        _require_aware("news2.at", news2.at)
    return Referral(
        referral_id=referral_id,
        resident=resident,
        hospital=hospital,
        reason=reason,
        trigger=trigger,
        vitals=tuple(sorted(vitals, key=lambda v: (v.ts, v.metric))),
        news2=news2,
        alerts=tuple(alerts),
        created_at=now,
        state=state,
        history=(TransitionRecord(None, state, now, actor, note),),
    )


def _check_resident(referral_id: str, resident: Resident, now: datetime) -> None:
    if not resident.name.strip():
        raise InvalidReferral(
            f"referral {referral_id}: resident {resident.resident_id} has no name"
        )
    if resident.birth_date > now.date():
        raise InvalidReferral(
            f"referral {referral_id}: birth date {resident.birth_date} is in the future"
        )
    if resident.sex not in get_args(Sex):
        raise InvalidReferral(
            f"referral {referral_id}: sex {resident.sex!r} is not one of {', '.join(get_args(Sex))}"
        )


def _check_hospital(referral_id: str, hospital: Hospital) -> None:
    for name in ("hospital_id", "name", "contact"):
        if not getattr(hospital, name).strip():
            raise InvalidReferral(f"referral {referral_id}: partner hospital has no {name}")


# --- transitions ---------------------------------------------------------------------------


def transition(
    referral: Referral, to_state: State, *, actor: Actor, now: datetime, note: str = ""
) -> tuple[Referral, list[Effect]]:
    """Move `referral` to `to_state` on `actor`'s word at `now`.

    Raises IllegalTransition (no such edge), NotPermitted (wrong side or role) or
    InvalidReferral (naive or backwards `now`, a required note missing)."""
    rid = referral.referral_id
    _require_aware("now", now)
    allowed = TRANSITIONS[referral.state]
    if to_state not in allowed:
        raise IllegalTransition(rid, referral.state, to_state, allowed)
    _check_permission(rid, to_state, actor)
    note = _note(rid, note)
    if to_state in NOTE_REQUIRED and not note:
        raise InvalidReferral(f"referral {rid}: moving to {to_state!r} needs a note saying why")
    if now < referral.updated_at:
        raise InvalidReferral(
            f"referral {rid}: {now.isoformat()} is before its last step at "
            f"{referral.updated_at.isoformat()}"
        )
    record = TransitionRecord(referral.state, to_state, now, actor, note)
    updated = replace(referral, state=to_state, history=(*referral.history, record))
    return updated, _effects(updated, referral.state, to_state, actor, now, note, "transition")


def may_take(actor: Actor, to_state: State) -> bool:
    """Whether `actor`'s side and role may move a referral into `to_state`."""
    permission = PERMISSIONS[to_state]
    return actor.side == permission.side and actor.role in permission.roles


def actions_for(state: State, actor: Actor) -> tuple[State, ...]:
    """The steps from `state` that `actor` may take, in the order a UI offers them."""
    return tuple(to for to in TRANSITIONS[state] if may_take(actor, to))


def _check_permission(referral_id: str, to_state: State, actor: Actor) -> None:
    permission = PERMISSIONS[to_state]
    if not may_take(actor, to_state):
        raise NotPermitted(
            referral_id,
            to_state,
            staff_id=actor.staff_id,
            role=actor.role,
            side=actor.side,
            required_side=permission.side,
            allowed_roles=sorted(permission.roles),
        )


def _note(referral_id: str, note: str) -> str:
    note = note.strip()
    if len(note) > _MAX_TEXT:
        raise InvalidReferral(f"referral {referral_id}: note longer than {_MAX_TEXT} characters")
    return note


def _effects(
    referral: Referral,
    from_state: State | None,
    to_state: State,
    actor: Actor | None,
    now: datetime,
    note: str,
    action: str,
) -> list[Effect]:
    parties, urgent = _NOTIFY[to_state]
    urgent = urgent and referral.kind in URGENT  # planned referrals page no one at night
    context = _context(referral)
    if note:
        context += (("note", note),)
    if actor is not None:
        # Put in words per recipient (effects.message): "ref-nurse（护士）".
        context += (("by", actor.staff_id), ("by_role", actor.role))
    audit = Audit(
        referral_id=referral.referral_id,
        action=f"referral.{action}",
        at=now,
        from_state=from_state,
        to_state=to_state,
        staff_id=None if actor is None else actor.staff_id,
        role=None if actor is None else actor.role,
        side=None if actor is None else actor.side,
        note=note,
    )
    notify = Notify(
        referral.referral_id,
        parties,
        f"referral.{to_state}",
        urgent,
        context,
        reason_code=referral.reason_code,
    )
    return [audit, notify]


def _context(referral: Referral) -> tuple[tuple[str, str], ...]:
    context: tuple[tuple[str, str], ...] = (
        ("resident", referral.resident.name),
        ("location", referral.resident.location),
        ("hospital", referral.hospital.name),
        ("reason", referral.reason),
        ("state", referral.state),
    )
    score = _news2_score(referral.news2)
    if score is not None:
        context += (("news2", str(score)),)
    return context


def _news2_score(news2: News2Result | None) -> int | None:
    # An incomplete score's partial total is a lower bound of the true one: >= 7 still holds.
    if news2 is None:
        return None
    return news2.total if news2.total is not None else news2.partial_total


# --- timers --------------------------------------------------------------------------------


def sla_tick(
    referral: Referral, now: datetime, config: ReferralConfig = DEFAULT_CONFIG
) -> list[Effect]:
    """The timer effects due at `now`: empty, or Audit + Notify + SlaFired for one timer.

    - suggested, unconfirmed `suggestion_confirm_s` after opening: remind (once);
    - requested, unanswered `hospital_answer_s` after the request (`planned_answer_s` for
      a planned kind): escalate (once);
    - in_transit, not admitted `transit_admit_s` after leaving: remind, again each period.
    A timer is once per referral because the I/O layer records the SlaFired effect on the
    referral (`record_sla`) before the next tick; answered referrals have no timer running."""
    _require_aware("now", now)
    state = referral.state
    entered = referral.updated_at
    elapsed = (now - entered).total_seconds()
    if state == "suggested":
        timer, period = "suggestion_confirm", config.suggestion_confirm_s
        parties: tuple[Party, ...] = ("charge_nurse", "physician")
        template = "referral.remind.unconfirmed"
        repeat = False
    elif state == "requested":
        timer, period = "hospital_answer", config.answer_s(referral.kind)
        parties = ("charge_nurse", "physician", "hospital")
        template = "referral.escalate.no_answer"
        repeat = False
    elif state == "in_transit":
        timer, period = "transit_admit", config.transit_admit_s
        parties = ("hospital", "unit", "charge_nurse")
        template = "referral.remind.not_admitted"
        repeat = True
    else:
        return []
    periods = math.floor(elapsed / period)
    if periods < 1:
        return []
    key = f"{timer}:{periods}" if repeat else timer
    if key in referral.sla_fired:
        return []
    context = (*_context(referral), ("overdue_s", f"{elapsed:.0f}"))
    rid = referral.referral_id
    return [
        Audit(rid, f"referral.sla.{timer}", now, state, state, note=f"{elapsed:.0f} s in {state}"),
        Notify(
            rid,
            parties,
            template,
            referral.kind in URGENT,
            context,
            reason_code=referral.reason_code,
        ),
        SlaFired(rid, key, now),
    ]


def record_sla(referral: Referral, effects: Iterable[Effect]) -> Referral:
    """`referral` with the timers fired among `effects` recorded, so they do not fire again."""
    fired = {e.timer for e in effects if isinstance(e, SlaFired)}
    if not fired:
        return referral
    return replace(referral, sla_fired=referral.sla_fired | fired)


def _require_aware(name: str, ts: datetime) -> None:
    if ts.utcoffset() is None:
        raise InvalidReferral(f"{name} must be timezone-aware, got {ts!r}")
