"""Referrals in the database: the pure workflow (`workflow.py`) wrapped in psycopg transactions.

Each operation is one transaction: read (and lock) the referral, ask the workflow, then write
the new state, its audit rows and the messages its Notify effects ask for (`effects.py`), so a
step is never half-taken or untold. The snapshot a referral carries (`snapshot.py`: 24 h of
vitals, NEWS2, open alerts) is read from the database when it is opened and stored with it
(`codec.py`), so the hospital sees what the care setting saw. Reading back: `queries.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from psycopg import AsyncConnection, errors
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.types import Severity
from services.careteam.store import current_team
from services.careteam.team import HospitalEntry
from services.referrals import reasons, workflow
from services.referrals.codec import active_alert, alert_json, hospital, news2_json, vital_json
from services.referrals.effects import directory_of, perform
from services.referrals.errors import AlreadyOpen, InvalidField, ReferralError, UnknownReferral
from services.referrals.model import (
    DEFAULT_CONFIG,
    FINAL_STATES,
    NEWS2_REFERRAL_THRESHOLD,
    Actor,
    Referral,
    ReferralConfig,
    State,
    configured,
)
from services.referrals.queries import StoredReferral, load
from services.referrals.routing import ROUTES, Kind, partners_for
from services.referrals.snapshot import (
    UNKNOWN_BIRTH_DATE,
    Subject,
    load_subject,
    score,
    snapshot,
)

__all__ = [
    "apply_transition",
    "insert_referral",
    "open_referral",
    "reserve_id",
    "sla_step",
    "suggest_from_alert",
]

log = logging.getLogger("carewatch.referrals")

Conn = AsyncConnection[TupleRow]

_FINAL: Final = tuple(sorted(FINAL_STATES))
_MAX_REASON: Final = 500
# Which timer runs in which state (workflow.sla_tick), and the config field of its period.
_TIMERS: Final[Mapping[State, tuple[str, str]]] = {
    "suggested": ("suggestion_confirm", "suggestion_confirm_s"),
    "requested": ("hospital_answer", "hospital_answer_s"),
    "in_transit": ("transit_admit", "transit_admit_s"),
}


# --- opening -------------------------------------------------------------------------------


async def _on_comfort_care(conn: Conn, resident_id: int) -> bool:
    cur = await conn.execute(
        "SELECT comfort_care FROM residents WHERE resident_id = %s", [resident_id]
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def suggest_from_alert(
    conn: Conn,
    *,
    alert_id: int,
    resident_id: int,
    rule_id: str,
    title: str,
    values: Mapping[str, float | str],
    now: datetime,
) -> int | None:
    """A rule's alert (NEWS2 >= 7: rule `news2`; a fall with suspected injury: a `fall*` rule)
    suggests an emergency transfer to the site's first general hospital. Returns the referral
    id, or None when the resident is on comfort care (NEWS2 only: goals of care), already has
    a referral or suggestion in progress, or no general hospital is a partner of their site;
    also (logged) when the stored readings do not score NEWS2 7 at `now` or the rule is
    neither (the alert still pages). Runs in a savepoint of the caller's transaction.
    """
    if rule_id == "news2":
        trigger: Literal["news2", "fall"] = "news2"
    elif rule_id.startswith("fall"):
        trigger = "fall"
    else:
        # Not worth failing the caller's transaction (the alert service's) over.
        log.warning("alert %s: rule %r does not suggest referrals", alert_id, rule_id)
        return None
    try:
        async with conn.transaction():
            subject = await load_subject(conn, resident_id)
            if trigger == "news2" and await _on_comfort_care(conn, resident_id):
                # Goals of care: no hospital transfer for a high score (the alert still pages).
                return None
            if await _in_progress(conn, resident_id) is not None:
                return None
            _, team = await current_team(conn)
            hospitals = partners_for("emergency", team.hospitals_for(subject.resident.site_id))
            if not hospitals:
                return None
            vitals, news2, alerts = await snapshot(conn, subject, now, DEFAULT_CONFIG)
            if trigger == "news2" and (news2 is None or score(news2) < NEWS2_REFERRAL_THRESHOLD):
                # The detector scores the live stream; the stored readings can lag it (ingest
                # batches) or differ (overrides edited since). No suggestion beats a wrong one.
                log.warning(
                    "alert %s (NEWS2, resident %s): stored readings score %s at %s, no referral "
                    "suggested",
                    alert_id,
                    resident_id,
                    None if news2 is None else score(news2),
                    now.isoformat(),
                )
                return None
            if not any(a["alert_id"] == alert_id for a in alerts):
                # The alert service may call before it has written the alert row.
                severity: Severity = "critical" if trigger == "news2" else "high"
                alerts.append(alert_json(alert_id, rule_id, severity, title, now, values))
            rid = await reserve_id(conn)
            code = reasons.from_alert(rule_id, values)
            referral, effects = workflow.suggest(
                referral_id=str(rid),
                resident=subject.resident,
                hospital=hospital(hospitals[0].id, hospitals[0].name, hospitals[0].kind),
                # The words are the code's; the English text is kept beside it (FHIR, exports).
                reason=_clip(reasons.render("en", code, title)),
                reason_code=code,
                trigger=trigger,
                vitals=vitals,
                news2=news2,
                alerts=[active_alert(a) for a in alerts],
                now=now,
            )
            await insert_referral(conn, rid, referral, subject, alert_id=alert_id, alerts=alerts)
            await perform(conn, rid, referral, effects, await directory_of(conn, team), now)
            return rid
    except errors.UniqueViolation:
        return None  # another opening for this resident committed first
    except ReferralError as exc:
        # An unknown resident, a resident without a name, ...: the alert pages regardless,
        # and the alert service's transaction must not fail over its suggestion.
        log.error("alert %s: no referral suggested for resident %s: %s", alert_id, resident_id, exc)
        return None


async def open_referral(
    conn: Conn,
    *,
    resident_id: int,
    actor: Actor,
    reason: str,
    now: datetime,
    hospital_id: str | None = None,
    note: str = "",
    config: ReferralConfig = DEFAULT_CONFIG,
    kind: Kind = "emergency",
) -> int:
    """Care-setting staff open a referral of `kind` by hand (state `requested`) to
    `hospital_id`, or the site's preferred partner for the kind (routing.py). Raises
    InvalidField (unknown resident, no partner of a kind that takes it), NotPermitted,
    InvalidReferral, or AlreadyOpen (one in progress)."""
    try:
        async with conn.transaction():
            subject = await load_subject(conn, resident_id)
            _, team = await current_team(conn)
            config = configured(config, team.referrals)
            chosen = _destination(team.hospitals_for(subject.resident.site_id), kind, hospital_id)
            site = subject.resident.site_id
            if chosen is None:
                raise InvalidField(
                    "resident_id", f"no partner hospital is configured for site {site!r}"
                )
            vitals, news2, alerts = await snapshot(conn, subject, now, config)
            rid = await reserve_id(conn)
            referral, effects = workflow.open_request(
                referral_id=str(rid),
                resident=subject.resident,
                hospital=hospital(chosen.id, chosen.name, chosen.kind),
                reason=reason,
                vitals=vitals,
                news2=news2,
                alerts=[active_alert(a) for a in alerts],
                actor=actor,
                now=now,
                note=note,
                config=config,
                kind=kind,
            )
            existing = await _in_progress(conn, resident_id)
            if existing is not None:
                raise AlreadyOpen(resident_id, *existing)
            await insert_referral(
                conn, rid, referral, subject, alert_id=None, alerts=alerts, config=config
            )
            await perform(conn, rid, referral, effects, await directory_of(conn, team), now)
            return rid
    except errors.UniqueViolation:
        # Lost a race with another opening: name the one that won.
        winner = await _in_progress(conn, resident_id) or (None, None)
        raise AlreadyOpen(resident_id, *winner) from None


def _destination(
    partners: Sequence[HospitalEntry], kind: Kind, hospital_id: str | None
) -> HospitalEntry | None:
    """The partner a referral of `kind` goes to: `hospital_id` if it takes the kind, else the
    preferred one; None when the site has no partner at all."""
    if not partners:
        return None
    routed = partners_for(kind, partners)
    wanted = ", ".join(ROUTES[kind])
    if hospital_id is None:
        if not routed:
            known = ", ".join(f"{p.id} ({p.kind})" for p in partners)
            raise InvalidField(
                "kind", f"no partner of a kind that takes {kind} ({wanted}); partners: {known}"
            )
        return routed[0]
    found = [p for p in partners if p.id == hospital_id]
    if not found:
        known = ", ".join(p.id for p in partners)
        raise InvalidField(
            "hospital_id", f"{hospital_id!r} is not a partner of this site (partners: {known})"
        )
    if found[0] not in routed:
        raise InvalidField(
            "hospital_id",
            f"{hospital_id!r} is a {found[0].kind}; a {kind} referral goes to: {wanted}",
        )
    return found[0]


# --- steps and timers ----------------------------------------------------------------------


async def apply_transition(
    conn: Conn,
    *,
    referral_id: int,
    to_state: State,
    actor: Actor,
    now: datetime,
    note: str = "",
    config: ReferralConfig = DEFAULT_CONFIG,
) -> StoredReferral:
    """Move a referral to `to_state` on `actor`'s word. Raises UnknownReferral, and the
    workflow's IllegalTransition, NotPermitted or InvalidReferral; nothing is written then."""
    async with conn.transaction():
        stored = await load(conn, referral_id, lock=True)
        if stored is None:
            raise UnknownReferral(referral_id)
        referral, effects = workflow.transition(
            stored.referral, to_state, actor=actor, now=now, note=note
        )
        directory = await directory_of(conn)
        config = configured(config, directory.team.referrals)
        requester = referral.requester
        await conn.execute(
            "UPDATE referrals SET state = %s, updated_at = %s, sla_due_at = %s,"
            " requester_id = %s, requester_role = %s WHERE referral_id = %s",
            [
                referral.state,
                referral.updated_at,
                _sla_due(referral, config),
                None if requester is None else requester.staff_id,
                None if requester is None else requester.role,
                referral_id,
            ],
        )
        await perform(conn, referral_id, referral, effects, directory, now)
        updated = await load(conn, referral_id)
    assert updated is not None
    return updated


async def sla_step(
    conn: Conn, now: datetime, *, config: ReferralConfig = DEFAULT_CONFIG, limit: int = 100
) -> int:
    """Fire the referral timers due at `now` (workflow.sla_tick), each once: the fired timer
    is recorded with its audit row and messages in one transaction, and referrals another
    caller is working on are skipped. Returns how many timers fired; call it periodically."""
    fired = 0
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT referral_id FROM referrals WHERE sla_due_at <= %s"
            " ORDER BY sla_due_at LIMIT %s FOR UPDATE SKIP LOCKED",
            [now, limit],
        )
        due = [int(r[0]) for r in await cur.fetchall()]
        if not due:
            return 0
        directory = await directory_of(conn)
        config = configured(config, directory.team.referrals)
        for referral_id in due:
            stored = await load(conn, referral_id)
            assert stored is not None  # locked above
            effects = workflow.sla_tick(stored.referral, now, config)
            referral = workflow.record_sla(stored.referral, effects)
            if effects:
                fired += 1
                await perform(conn, referral_id, referral, effects, directory, now)
            # A deadline met a hair early (float periods) stays due and fires on the next call.
            await conn.execute(
                "UPDATE referrals SET sla_fired = %s, sla_due_at = %s WHERE referral_id = %s",
                [sorted(referral.sla_fired), _sla_due(referral, config), referral_id],
            )
    return fired


def _sla_due(referral: Referral, config: ReferralConfig) -> datetime | None:
    # When workflow.sla_tick will next have something to fire (it stays the judge).
    timer = _TIMERS.get(referral.state)
    if timer is None:
        return None
    name, field = timer
    planned = name == "hospital_answer"  # its time limit depends on the kind
    seconds = config.answer_s(referral.kind) if planned else getattr(config, field)
    period = timedelta(seconds=float(seconds))
    if referral.state != "in_transit":  # once per referral
        return None if name in referral.sla_fired else referral.updated_at + period
    # The transit reminder repeats every period: "transit_admit:N" marks the N-th.
    done = [int(k.partition(":")[2]) for k in referral.sla_fired if k.startswith(f"{name}:")]
    return referral.updated_at + period * (max(done, default=0) + 1)


def _clip(reason: str) -> str:
    # The workflow takes up to 2000 characters; a rule's values never need that many.
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"


async def _in_progress(conn: Conn, resident_id: int) -> tuple[int, str] | None:
    cur = await conn.execute(
        "SELECT referral_id, state FROM referrals WHERE resident_id = %s"
        " AND state <> ALL(%s) ORDER BY referral_id DESC LIMIT 1",
        [resident_id, list(_FINAL)],
    )
    found = await cur.fetchone()
    return None if found is None else (int(found[0]), found[1])


async def reserve_id(conn: Conn) -> int:
    cur = await conn.execute("SELECT nextval(pg_get_serial_sequence('referrals', 'referral_id'))")
    found = await cur.fetchone()
    assert found is not None
    return int(found[0])


async def insert_referral(
    conn: Conn,
    referral_id: int,
    referral: Referral,
    subject: Subject,
    *,
    alert_id: int | None,
    alerts: Sequence[Mapping[str, Any]],
    config: ReferralConfig = DEFAULT_CONFIG,
    discharge: Mapping[str, Any] | None = None,
) -> None:
    r = referral.resident
    patient = {
        "name": r.name,
        "sex": r.sex,
        # None: not on file (see snapshot.UNKNOWN_BIRTH_DATE).
        "birth_date": None if r.birth_date == UNKNOWN_BIRTH_DATE else r.birth_date.isoformat(),
        "site_id": r.site_id,
        "unit_id": r.unit_id,
        "room": r.room,
        "bed": r.bed,
        "news2_scale": subject.scale,
    }
    requester = referral.requester
    code = referral.reason_code
    await conn.execute(
        "INSERT INTO referrals (referral_id, resident_id, site_id, unit_id, hospital_id,"
        " hospital_name, state, trigger, reason, reason_code, reason_params, alert_id,"
        " requester_id, requester_role, patient, vitals, news2, alerts, sla_due_at, created_at,"
        " updated_at, kind, partner_kind, discharge) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
        " %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            referral_id,
            r.resident_id,
            r.site_id,
            r.unit_id,
            referral.hospital.hospital_id,
            referral.hospital.name,
            referral.state,
            referral.trigger,
            referral.reason,
            None if code is None else code.code,
            Jsonb({} if code is None else dict(code.params)),
            alert_id,
            None if requester is None else requester.staff_id,
            None if requester is None else requester.role,
            Jsonb(patient),
            Jsonb([vital_json(v) for v in referral.vitals]),
            None if referral.news2 is None else Jsonb(news2_json(referral.news2)),
            Jsonb(list(alerts)),
            _sla_due(referral, config),
            referral.created_at,
            referral.updated_at,
            referral.kind,
            referral.hospital.kind,
            None if discharge is None else Jsonb(discharge),
        ],
    )
