"""Referrals in the database: the pure workflow (`workflow.py`) wrapped in psycopg transactions.

Each operation is one transaction: read (and lock) the referral, ask the workflow, then write
the new state, its audit rows (`referral_transitions`) and the messages its Notify effects ask
for (the `notifications` outbox, kind 'referral'), so a step is never half-taken or untold.
The snapshot a referral carries (24 h of vitals, NEWS2, open alerts) is read from the database
when it is opened and stored with it, so the hospital sees what the care setting saw.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, cast

from psycopg import AsyncConnection, errors, sql
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.news2 import Gap, News2Config, News2Result, SubScore, compute_news2
from rules.types import Severity, Source, Vital
from rules.vocabulary import CLINICAL_METRICS
from services.alerts.messages import SHORT_MAX
from services.careteam.roster import Role as StaffRole
from services.careteam.roster import Roster, Staff, on_duty, resident_contacts
from services.careteam.store import current_team, placements
from services.careteam.team import CareTeam, Placement, roster_of
from services.catalogue import Language, has, text
from services.notifications.outbox import enqueue
from services.readings import latest_vitals, news2_lookback, vitals_from_rows
from services.referrals import fhir, workflow
from services.referrals.errors import InvalidReferral, ReferralError
from services.referrals.workflow import (
    DEFAULT_CONFIG,
    ActiveAlert,
    Actor,
    Audit,
    Effect,
    Hospital,
    Notify,
    Party,
    Referral,
    ReferralConfig,
    Resident,
    Role,
    Sex,
    Side,
    State,
    TransitionRecord,
    Trigger,
)
from services.resident_rules import effective_rules

__all__ = [
    "AlreadyOpen",
    "AuditRow",
    "InvalidField",
    "ReferralRow",
    "StoredReferral",
    "UnknownReferral",
    "apply_transition",
    "fhir_bundle",
    "get_referral",
    "list_referrals",
    "open_referral",
    "sla_step",
    "suggest_from_alert",
]

log = logging.getLogger("carewatch.referrals")

Conn = AsyncConnection[TupleRow]

# The numeric streams a referral snapshot and NEWS2 read (bed occupancy and movement are not
# vital signs for the hospital).
VITAL_METRICS: Final = CLINICAL_METRICS
# Wearables report every few seconds: 24 h of raw readings is ~10^5 rows. The snapshot keeps
# the last reading per metric per 5 minutes (the FHIR export thins it to 15 further on).
SNAPSHOT_BUCKET: Final = timedelta(minutes=5)
# The residents table has no sex or birth date yet, and the workflow's Resident needs a date:
# this placeholder stands in, and the FHIR export leaves birthDate out (`fhir_bundle`).
_UNKNOWN_BIRTH_DATE: Final = date(1, 1, 1)
_FINAL: Final = tuple(sorted(workflow.FINAL_STATES))
_MAX_REASON: Final = 500
# Which roster roles stand behind a workflow party (the hospital and the requester are looked
# up by id instead).
_PARTY_ROLES: Final[Mapping[Party, tuple[StaffRole, ...]]] = {
    "unit": ("caregiver", "nurse"),
    "charge_nurse": ("charge_nurse",),
    "physician": ("physician",),
}
# Which timer runs in which state (workflow.sla_tick), and the config field of its period.
_TIMERS: Final[Mapping[State, tuple[str, str]]] = {
    "suggested": ("suggestion_confirm", "suggestion_confirm_s"),
    "requested": ("hospital_answer", "hospital_answer_s"),
    "in_transit": ("transit_admit", "transit_admit_s"),
}
# The messages' words are in the shared catalogue (`pages.referral.*`, services/catalogue.py).


# --- errors of the store (the workflow's own are in errors.py) ------------------------------


class UnknownReferral(ReferralError, LookupError):
    """No referral with this id."""

    def __init__(self, referral_id: int) -> None:
        self.referral_id = referral_id
        super().__init__(f"unknown referral {referral_id}")


class AlreadyOpen(ReferralError):
    """The resident already has a referral (or suggestion) in progress: one at a time."""

    def __init__(self, resident_id: int, referral_id: int | None, state: str | None) -> None:
        self.resident_id = resident_id
        self.referral_id = referral_id
        which = f"referral {referral_id} ({state})" if referral_id else "a referral"
        super().__init__(
            f"resident {resident_id} already has {which} in progress: confirm, dismiss or "
            "cancel it instead of opening another"
        )


class InvalidField(InvalidReferral):
    """An input names something that is not there; `field` is that input's name."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# --- what the store returns ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferralRow:
    """A referral's own columns, without the snapshot (what a list shows)."""

    referral_id: int
    resident_id: int
    site_id: str
    unit_id: str
    hospital_id: str
    hospital_name: str
    state: State
    trigger: Trigger
    reason: str
    alert_id: int | None
    requester_id: str | None
    requester_role: str | None
    sla_due_at: datetime | None
    created_at: datetime
    updated_at: datetime


_ROW_COLUMNS: Final = sql.SQL(
    "referral_id, resident_id, site_id, unit_id, hospital_id, hospital_name, state, trigger,"
    " reason, alert_id, requester_id, requester_role, sla_due_at, created_at, updated_at"
)


def _row(values: Sequence[Any]) -> ReferralRow:
    return ReferralRow(
        int(values[0]),
        int(values[1]),
        values[2],
        values[3],
        values[4],
        values[5],
        cast(State, values[6]),
        cast(Trigger, values[7]),
        values[8],
        None if values[9] is None else int(values[9]),
        values[10],
        values[11],
        values[12],
        values[13],
        values[14],
    )


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One row of the audit trail: a step (`referral.opened`, `referral.transition`) or a fired
    timer (`referral.sla.<timer>`, from_state = to_state, no staff)."""

    at: datetime
    action: str
    from_state: State | None
    to_state: State
    staff_id: str | None
    role: str | None
    side: str | None
    note: str


@dataclass(frozen=True, slots=True)
class StoredReferral:
    """A referral as stored: its columns, the workflow's value rebuilt from them (for the next
    step and the FHIR export), the audit trail, and the snapshot as stored (JSON)."""

    row: ReferralRow
    referral: Referral
    audit: tuple[AuditRow, ...]
    patient: Mapping[str, Any]
    vitals: Sequence[Mapping[str, Any]]
    news2: Mapping[str, Any] | None
    alerts: Sequence[Mapping[str, Any]]

    @property
    def birth_date_known(self) -> bool:
        return self.patient.get("birth_date") is not None


# --- opening -------------------------------------------------------------------------------


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
    suggests a referral to the site's first partner hospital. Returns the referral id, or None
    when the resident already has a referral or suggestion in progress, or no partner hospital
    is configured for their site; also (logged) when the stored readings do not score NEWS2 7
    at `now` or the rule is neither (the alert still pages). Runs in a savepoint of the
    caller's transaction.
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
            subject = await _resident(conn, resident_id)
            if await _in_progress(conn, resident_id) is not None:
                return None
            _, team = await current_team(conn)
            hospitals = team.hospitals_for(subject.resident.site_id)
            if not hospitals:
                return None
            vitals, news2, alerts = await _snapshot(conn, subject, now, DEFAULT_CONFIG)
            if trigger == "news2" and (
                news2 is None or _score(news2) < workflow.NEWS2_REFERRAL_THRESHOLD
            ):
                # The detector scores the live stream; the stored readings can lag it (ingest
                # batches) or differ (overrides edited since). No suggestion beats a wrong one.
                log.warning(
                    "alert %s (NEWS2, resident %s): stored readings score %s at %s, no referral "
                    "suggested",
                    alert_id,
                    resident_id,
                    None if news2 is None else _score(news2),
                    now.isoformat(),
                )
                return None
            if not any(a["alert_id"] == alert_id for a in alerts):
                # The alert service may call before it has written the alert row.
                severity: Severity = "critical" if trigger == "news2" else "high"
                alerts.append(_alert_json(alert_id, rule_id, severity, title, now))
            rid = await _reserve_id(conn)
            referral, effects = workflow.suggest(
                referral_id=str(rid),
                resident=subject.resident,
                hospital=_hospital(hospitals[0].id, hospitals[0].name),
                reason=_reason(title, values),
                trigger=trigger,
                vitals=vitals,
                news2=news2,
                alerts=[_active_alert(a) for a in alerts],
                now=now,
            )
            await _insert(conn, rid, referral, subject, alert_id=alert_id, alerts=alerts)
            await _perform(conn, rid, referral, effects, await _directory(conn, team), now)
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
) -> int:
    """Care-setting staff open a referral by hand (state `requested`) to `hospital_id`, or the
    site's first partner hospital. Raises InvalidField (unknown resident or hospital),
    NotPermitted, InvalidReferral, or AlreadyOpen (one in progress)."""
    try:
        async with conn.transaction():
            subject = await _resident(conn, resident_id)
            _, team = await current_team(conn)
            hospitals = team.hospitals_for(subject.resident.site_id)
            site = subject.resident.site_id
            if not hospitals:
                raise InvalidField(
                    "resident_id", f"no partner hospital is configured for site {site!r}"
                )
            if hospital_id is None:
                chosen = hospitals[0]
            else:
                found = [h for h in hospitals if h.id == hospital_id]
                if not found:
                    known = ", ".join(h.id for h in hospitals)
                    raise InvalidField(
                        "hospital_id",
                        f"{hospital_id!r} is not a partner hospital of site {site!r} "
                        f"(partners: {known})",
                    )
                chosen = found[0]
            vitals, news2, alerts = await _snapshot(conn, subject, now, config)
            rid = await _reserve_id(conn)
            referral, effects = workflow.open_request(
                referral_id=str(rid),
                resident=subject.resident,
                hospital=_hospital(chosen.id, chosen.name),
                reason=reason,
                vitals=vitals,
                news2=news2,
                alerts=[_active_alert(a) for a in alerts],
                actor=actor,
                now=now,
                note=note,
                config=config,
            )
            existing = await _in_progress(conn, resident_id)
            if existing is not None:
                raise AlreadyOpen(resident_id, *existing)
            await _insert(conn, rid, referral, subject, alert_id=None, alerts=alerts, config=config)
            await _perform(conn, rid, referral, effects, await _directory(conn, team), now)
            return rid
    except errors.UniqueViolation:
        # Lost a race with another opening: name the one that won.
        winner = await _in_progress(conn, resident_id) or (None, None)
        raise AlreadyOpen(resident_id, *winner) from None


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
        stored = await _load(conn, referral_id, lock=True)
        if stored is None:
            raise UnknownReferral(referral_id)
        referral, effects = workflow.transition(
            stored.referral, to_state, actor=actor, now=now, note=note
        )
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
        await _perform(conn, referral_id, referral, effects, await _directory(conn), now)
        updated = await _load(conn, referral_id)
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
        directory = await _directory(conn)
        for referral_id in due:
            stored = await _load(conn, referral_id)
            assert stored is not None  # locked above
            effects = workflow.sla_tick(stored.referral, now, config)
            referral = workflow.record_sla(stored.referral, effects)
            if effects:
                fired += 1
                await _perform(conn, referral_id, referral, effects, directory, now)
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
    period = timedelta(seconds=float(getattr(config, field)))
    if referral.state != "in_transit":  # once per referral
        return None if name in referral.sla_fired else referral.updated_at + period
    # The transit reminder repeats every period: "transit_admit:N" marks the N-th.
    done = [int(k.partition(":")[2]) for k in referral.sla_fired if k.startswith(f"{name}:")]
    return referral.updated_at + period * (max(done, default=0) + 1)


# --- reading -------------------------------------------------------------------------------


async def get_referral(conn: Conn, referral_id: int) -> StoredReferral | None:
    return await _load(conn, referral_id)


async def list_referrals(
    conn: Conn,
    *,
    state: State | None = None,
    resident_id: int | None = None,
    site_id: str | None = None,
    hospital_id: str | None = None,
    scope: tuple[str, Sequence[object]] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ReferralRow], int]:
    """Referrals matching every filter given, newest first, and how many match in all.
    `scope`: a caller's place limit (a fixed SQL fragment over site_id/unit_id, and its
    parameters; see auth.principal.Principal.scope_sql)."""
    where: list[sql.Composable] = []
    params: list[Any] = []
    if scope is not None:
        where.append(sql.SQL(scope[0]))  # built from fixed parts, never from input
        params += scope[1]
    for column, value in (
        ("state", state),
        ("resident_id", resident_id),
        ("site_id", site_id),
        ("hospital_id", hospital_id),
    ):
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
    cur = await conn.execute(sql.SQL("SELECT count(*) FROM referrals") + clause, params)
    total_row = await cur.fetchone()
    assert total_row is not None
    query = (
        sql.SQL("SELECT {} FROM referrals").format(_ROW_COLUMNS)
        + clause
        + sql.SQL(" ORDER BY referral_id DESC LIMIT %s OFFSET %s")
    )
    cur = await conn.execute(query, [*params, limit, offset])
    return [_row(r) for r in await cur.fetchall()], int(total_row[0])


def fhir_bundle(stored: StoredReferral) -> dict[str, Any]:
    """The FHIR R4 Bundle of a stored referral (services/referrals/fhir.py), without the
    placeholder birth date of a resident whose birth date is not on file."""
    data = fhir.bundle_json(stored.referral)
    if not stored.birth_date_known:
        for entry in data["entry"]:
            if entry["resource"]["resourceType"] == "Patient":
                entry["resource"].pop("birthDate", None)
    return data


async def _load(conn: Conn, referral_id: int, *, lock: bool = False) -> StoredReferral | None:
    query = sql.SQL(
        "SELECT {}, patient, vitals, news2, alerts, sla_fired FROM referrals WHERE referral_id = %s"
    ).format(_ROW_COLUMNS)
    if lock:
        query += sql.SQL(" FOR UPDATE")
    cur = await conn.execute(query, [referral_id])
    found = await cur.fetchone()
    if found is None:
        return None
    row = _row(found)
    patient, vitals, news2, alerts, sla_fired = found[15:]
    cur = await conn.execute(
        "SELECT at, action, from_state, to_state, staff_id, role, side, note"
        " FROM referral_transitions WHERE referral_id = %s ORDER BY transition_id",
        [referral_id],
    )
    audit = tuple(
        AuditRow(at, action, cast("State | None", frm), cast(State, to), sid, role, side, note)
        for at, action, frm, to, sid, role, side, note in await cur.fetchall()
    )
    # The history the workflow knows: the steps, not the timers.
    history = tuple(
        TransitionRecord(a.from_state, a.to_state, a.at, _actor_of(a), a.note)
        for a in audit
        if not a.action.startswith("referral.sla.")
    )
    birth = patient.get("birth_date")
    resident = Resident(
        row.resident_id,
        patient["name"],
        cast(Sex, patient["sex"]),
        date.fromisoformat(birth) if birth else _UNKNOWN_BIRTH_DATE,
        patient["site_id"],
        patient["unit_id"],
        patient.get("room"),
        patient.get("bed"),
    )
    referral = Referral(
        referral_id=str(row.referral_id),
        resident=resident,
        hospital=_hospital(row.hospital_id, row.hospital_name),
        reason=row.reason,
        trigger=row.trigger,
        vitals=tuple(_vital_from(v) for v in vitals),
        news2=None if news2 is None else _news2_from(news2),
        alerts=tuple(_active_alert(a) for a in alerts),
        created_at=row.created_at,
        state=row.state,
        history=history,
        sla_fired=frozenset(sla_fired),
    )
    return StoredReferral(row, referral, audit, patient, vitals, news2, alerts)


def _actor_of(audit: AuditRow) -> Actor | None:
    if audit.staff_id is None:
        return None
    return Actor(audit.staff_id, cast(Role, audit.role), cast(Side, audit.side))


# --- the resident and the snapshot ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Subject:
    resident: Resident
    scale: Literal[1, 2]
    news2: News2Config


async def _resident(conn: Conn, resident_id: int) -> _Subject:
    cur = await conn.execute(
        "SELECT r.display_name, r.site_id, r.unit_id, r.room, r.bed, r.news2_scale,"
        " s.rule_overrides, r.rule_overrides"
        " FROM residents r JOIN sites s USING (site_id) WHERE r.resident_id = %s",
        [resident_id],
    )
    found = await cur.fetchone()
    if found is None:
        raise InvalidField("resident_id", f"unknown resident {resident_id}")
    name, site, unit, room, bed, scale, site_over, own_over = found
    config = effective_rules(site_over, own_over, resident_id=resident_id)
    resident = Resident(resident_id, name, "unknown", _UNKNOWN_BIRTH_DATE, site, unit, room, bed)
    return _Subject(resident, 2 if scale == 2 else 1, config.news2)


async def _snapshot(
    conn: Conn, subject: _Subject, now: datetime, config: ReferralConfig
) -> tuple[list[Vital], News2Result | None, list[dict[str, Any]]]:
    """The last 24 h of vitals (thinned), NEWS2 from the freshest readings at `now` (None when
    not one parameter has a reading), and the resident's open alerts as JSON."""
    rid = subject.resident.resident_id
    start = now - timedelta(seconds=config.snapshot_window_s)
    end = now + timedelta(seconds=config.max_future_s)
    window = {"rid": rid, "metrics": list(VITAL_METRICS), "start": start, "end": end}
    cur = await conn.execute(
        "SELECT DISTINCT ON (metric, bucket) ts, metric, value, source, device_id FROM ("
        " SELECT time_bucket(%(bucket)s, ts) AS bucket, ts, metric, value, source, device_id"
        " FROM readings WHERE resident_id = %(rid)s AND metric = ANY(%(metrics)s)"
        " AND ts >= %(start)s AND ts <= %(end)s) r"
        " ORDER BY metric, bucket, ts DESC",
        {**window, "bucket": SNAPSHOT_BUCKET},
    )
    vitals = workflow.vitals_snapshot(
        vitals_from_rows(await cur.fetchall()), now=now, config=config
    )
    # NEWS2 reads back as far as the resident's freshness settings let a reading count (the
    # snapshot's window can be shorter than an override), as the detector and the API do.
    since = now - news2_lookback(subject.news2)
    latest = await latest_vitals(conn, rid, since=since, until=end, metrics=VITAL_METRICS)
    news2 = compute_news2(latest, scale=subject.scale, now=now, config=subject.news2)
    # No reading at all (only the on_o2 assumption): a score of 0 would mislead.
    scored = any(s.reading is not None for s in news2.sub_scores)
    cur = await conn.execute(
        "SELECT alert_id, rule_id, severity, title, first_ts FROM alerts"
        " WHERE resident_id = %s AND resolved_at IS NULL ORDER BY opened_at, alert_id",
        [rid],
    )
    alerts = [_alert_json(int(a), r, s, t, ts) for a, r, s, t, ts in await cur.fetchall()]
    return list(vitals), news2 if scored else None, alerts


def _score(news2: News2Result) -> int:
    # An incomplete score's partial total is a lower bound: >= 7 still holds (as the workflow).
    return news2.total if news2.total is not None else news2.partial_total


def _reason(title: str, values: Mapping[str, float | str]) -> str:
    shown = ", ".join(f"{k} {v}" for k, v in values.items() if k != "assumptions")
    reason = f"{title} ({shown})" if shown else title
    # The workflow takes up to 2000 characters; a rule's values never need that many.
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 1] + "…"


def _hospital(hospital_id: str, name: str) -> Hospital:
    # The contact is resolved through the care team document when a message is queued.
    return Hospital(hospital_id, name, f"care-team:hospitals/{hospital_id}")


async def _in_progress(conn: Conn, resident_id: int) -> tuple[int, str] | None:
    cur = await conn.execute(
        "SELECT referral_id, state FROM referrals WHERE resident_id = %s"
        " AND state <> ALL(%s) ORDER BY referral_id DESC LIMIT 1",
        [resident_id, list(_FINAL)],
    )
    found = await cur.fetchone()
    return None if found is None else (int(found[0]), found[1])


async def _reserve_id(conn: Conn) -> int:
    cur = await conn.execute("SELECT nextval(pg_get_serial_sequence('referrals', 'referral_id'))")
    found = await cur.fetchone()
    assert found is not None
    return int(found[0])


async def _insert(
    conn: Conn,
    referral_id: int,
    referral: Referral,
    subject: _Subject,
    *,
    alert_id: int | None,
    alerts: Sequence[Mapping[str, Any]],
    config: ReferralConfig = DEFAULT_CONFIG,
) -> None:
    r = referral.resident
    patient = {
        "name": r.name,
        "sex": r.sex,
        "birth_date": None,  # not on file (see _UNKNOWN_BIRTH_DATE)
        "site_id": r.site_id,
        "unit_id": r.unit_id,
        "room": r.room,
        "bed": r.bed,
        "news2_scale": subject.scale,
    }
    requester = referral.requester
    await conn.execute(
        "INSERT INTO referrals (referral_id, resident_id, site_id, unit_id, hospital_id,"
        " hospital_name, state, trigger, reason, alert_id, requester_id, requester_role,"
        " patient, vitals, news2, alerts, sla_due_at, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
            alert_id,
            None if requester is None else requester.staff_id,
            None if requester is None else requester.role,
            Jsonb(patient),
            Jsonb([_vital_json(v) for v in referral.vitals]),
            None if referral.news2 is None else Jsonb(_news2_json(referral.news2)),
            Jsonb(list(alerts)),
            _sla_due(referral, config),
            referral.created_at,
            referral.updated_at,
        ],
    )


# --- effects: the audit trail and the outbox ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Directory:
    """Who can be reached: the care team document, its roster, and where residents live."""

    team: CareTeam
    roster: Roster
    places: Mapping[int, Placement]


async def _directory(conn: Conn, team: CareTeam | None = None) -> _Directory:
    if team is None:
        _, team = await current_team(conn)
    places = await placements(conn)
    return _Directory(team, roster_of(team, places), places)


async def _perform(
    conn: Conn,
    referral_id: int,
    referral: Referral,
    effects: Iterable[Effect],
    directory: _Directory,
    now: datetime,
) -> None:
    """Write the audit rows and queue the messages; SlaFired is recorded by the caller."""
    for effect in effects:
        if isinstance(effect, Audit):
            await conn.execute(
                "INSERT INTO referral_transitions (referral_id, at, action, from_state, to_state,"
                " staff_id, role, side, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    referral_id,
                    effect.at,
                    effect.action,
                    effect.from_state,
                    effect.to_state,
                    effect.staff_id,
                    effect.role,
                    effect.side,
                    effect.note,
                ],
            )
        elif isinstance(effect, Notify):
            site = referral.resident.site_id
            sent: set[str] = set()
            for party in effect.parties:
                recipients = _recipients(party, referral, directory, now)
                if not recipients:
                    # Nobody on shift in that role (or the hospital left the care team
                    # document): the rest still hear; an operator must see the gap.
                    log.warning(
                        "referral %s: nobody to tell as %r for %s",
                        referral_id,
                        party,
                        effect.template,
                    )
                for recipient, channels in recipients:
                    if recipient in sent:
                        continue  # one message per person, whichever parties they stand for
                    sent.add(recipient)
                    language = directory.team.language_of(recipient, site)
                    title, body = _message(referral_id, effect, language)
                    await enqueue(
                        conn,
                        kind="referral",
                        referral_id=referral_id,
                        recipient=recipient,
                        channels=channels,
                        title=title,
                        body=body,
                        short=title[:SHORT_MAX],  # SMS: one segment
                    )


def _recipients(
    party: Party, referral: Referral, directory: _Directory, now: datetime
) -> list[tuple[str, tuple[str, ...]]]:
    """(id, apprise channels) of whoever stands for `party` at `now`."""
    team = directory.team
    if party == "hospital":
        hospital_id = referral.hospital.hospital_id
        return [(h.id, h.channels) for h in team.hospitals if h.id == hospital_id]
    if party == "requester":
        requester = referral.requester
        person = None if requester is None else team.staff_by_id().get(requester.staff_id)
        return [] if person is None else [(person.id, person.channels)]
    r = referral.resident
    # Where the resident lives now (they may have moved since the referral was opened).
    site, unit, tz = directory.places.get(r.resident_id, (r.site_id, r.unit_id, "Asia/Shanghai"))
    people: list[Staff] = [
        person
        for role in _PARTY_ROLES[party]
        for person in on_duty(directory.roster, site, unit, role, now, tz)
    ]
    if party == "physician" and not people:
        # A family bed has no physician on shift: its contracted family doctor stands in.
        people = resident_contacts(directory.roster, r.resident_id, "family_doctor")
    return [(p.id, p.channels) for p in people]


def _message(referral_id: int, effect: Notify, language: Language) -> tuple[str, str]:
    """The referral message in the recipient's language (its facts as given)."""
    context = dict(effect.context)
    key = f"pages.{effect.template}"
    what = text(language, key) if has(language, key) else effect.template
    title = text(
        language,
        "pages.referral.title",
        urgent=text(language, "pages.referral.urgent") if effect.urgent else "",
        id=referral_id,
        what=what,
        resident=context.get("resident", "?"),
        hospital=context.get("hospital", "?"),
    )
    lines = []
    for name, value in effect.context:
        label_key = f"pages.referral.field.{name}"
        label = text(language, label_key) if has(language, label_key) else name
        if name == "state" and has(language, f"state.{value}") and language != "en":
            value = text(language, f"state.{value}")
        lines.append(text(language, "pages.referral.line", label=label, value=value))
    return title, "\n".join(lines)


# --- the snapshot as JSON ------------------------------------------------------------------


def _alert_json(
    alert_id: int | None, rule_id: str, severity: str, title: str, ts: datetime
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "rule_id": rule_id,
        "severity": severity,
        "title": title,
        "ts": ts.isoformat(),
    }


def _active_alert(data: Mapping[str, Any]) -> ActiveAlert:
    return ActiveAlert(
        data["rule_id"],
        cast(Severity, data["severity"]),
        data["title"],
        datetime.fromisoformat(data["ts"]),
    )


def _vital_json(v: Vital) -> dict[str, Any]:
    return {
        "ts": v.ts.isoformat(),
        "metric": v.metric,
        "value": v.value,
        "source": v.source,
        "device_id": v.device_id,
    }


def _vital_from(data: Mapping[str, Any]) -> Vital:
    return Vital(
        datetime.fromisoformat(data["ts"]),
        data["metric"],
        float(data["value"]),
        cast(Source, data["source"]),
        data.get("device_id"),
    )


def _news2_json(result: News2Result) -> dict[str, Any]:
    return {
        "at": result.at.isoformat(),
        "scale": result.scale,
        "complete": result.complete,
        "total": result.total,
        "band": result.band,
        "partial_total": result.partial_total,
        "sub_scores": [
            {
                "parameter": s.parameter,
                "score": s.score,
                "charted": str(s.charted),
                "reading": None if s.reading is None else _vital_json(s.reading),
            }
            for s in result.sub_scores
        ],
        "missing": list(result.missing),
        "gaps": [
            {
                "parameter": g.parameter,
                "reason": g.reason,
                "reading": None if g.reading is None else _vital_json(g.reading),
                "age_s": g.age_s,
            }
            for g in result.gaps
        ],
        "assumptions": list(result.assumptions),
    }


def _news2_from(data: Mapping[str, Any]) -> News2Result:
    return News2Result(
        at=datetime.fromisoformat(data["at"]),
        scale=2 if data["scale"] == 2 else 1,
        complete=bool(data["complete"]),
        total=data["total"],
        band=data["band"],
        partial_total=int(data["partial_total"]),
        sub_scores=tuple(
            SubScore(
                s["parameter"],
                int(s["score"]),
                Decimal(s["charted"]),
                None if s["reading"] is None else _vital_from(s["reading"]),
            )
            for s in data["sub_scores"]
        ),
        missing=tuple(data["missing"]),
        gaps=tuple(
            Gap(
                g["parameter"],
                g["reason"],
                None if g["reading"] is None else _vital_from(g["reading"]),
                g["age_s"],
            )
            for g in data["gaps"]
        ),
        assumptions=tuple(data["assumptions"]),
    )
