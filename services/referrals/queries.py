"""Referrals as stored, read back: a list with filters, and one referral with its audit trail,
the workflow's value rebuilt from its columns (for the next step and the FHIR export)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, cast

from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

from services.catalogue import DEFAULT_LANGUAGE, Language
from services.referrals import fhir
from services.referrals.codec import active_alert, hospital, news2_from, vital_from
from services.referrals.model import (
    Actor,
    PatientRecord,
    ReasonCode,
    Referral,
    Resident,
    Role,
    Sex,
    Side,
    State,
    TransitionRecord,
    Trigger,
)
from services.referrals.reasons import params_of
from services.referrals.routing import Kind, PartnerKind
from services.referrals.snapshot import UNKNOWN_BIRTH_DATE

Conn = AsyncConnection[TupleRow]


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
    reason_code: ReasonCode | None = None  # None: `reason` is the words (staff, old rows)
    kind: Kind = "emergency"
    partner_kind: PartnerKind = "general_hospital"
    discharge: Mapping[str, Any] | None = None  # a return's discharge summary


ROW_COLUMNS: Final = sql.SQL(
    "referral_id, resident_id, site_id, unit_id, hospital_id, hospital_name, state, trigger,"
    " reason, alert_id, requester_id, requester_role, sla_due_at, created_at, updated_at,"
    " reason_code, reason_params, kind, partner_kind, discharge"
)
_COUNT: Final = 20  # columns in ROW_COLUMNS


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
        None if values[15] is None else ReasonCode(values[15], params_of(values[16] or {})),
        cast(Kind, values[17]),
        cast(PartnerKind, values[18]),
        values[19],
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


async def get_referral(conn: Conn, referral_id: int) -> StoredReferral | None:
    return await load(conn, referral_id)


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
        sql.SQL("SELECT {} FROM referrals").format(ROW_COLUMNS)
        + clause
        + sql.SQL(" ORDER BY referral_id DESC LIMIT %s OFFSET %s")
    )
    cur = await conn.execute(query, [*params, limit, offset])
    return [_row(r) for r in await cur.fetchall()], int(total_row[0])


def fhir_bundle(
    stored: StoredReferral,
    record: PatientRecord | None = None,
    language: Language = DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """The FHIR R4 Bundle of a stored referral (services/referrals/fhir.py) with the resident's
    record and a rule's reason in `language`, without the placeholder birth date of a resident
    whose birth date is not on file."""
    data = fhir.bundle_json(stored.referral, record=record, language=language)
    known = stored.birth_date_known or (record is not None and record.birth_date is not None)
    if not known:
        for entry in data["entry"]:
            if entry["resource"]["resourceType"] == "Patient":
                entry["resource"].pop("birthDate", None)
    return data


async def load(conn: Conn, referral_id: int, *, lock: bool = False) -> StoredReferral | None:
    """One referral (locked for the caller's transaction with `lock`), or None."""
    query = sql.SQL(
        "SELECT {}, patient, vitals, news2, alerts, sla_fired FROM referrals WHERE referral_id = %s"
    ).format(ROW_COLUMNS)
    if lock:
        query += sql.SQL(" FOR UPDATE")
    cur = await conn.execute(query, [referral_id])
    found = await cur.fetchone()
    if found is None:
        return None
    row = _row(found)
    patient, vitals, news2, alerts, sla_fired = found[_COUNT:]
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
        date.fromisoformat(birth) if birth else UNKNOWN_BIRTH_DATE,
        patient["site_id"],
        patient["unit_id"],
        patient.get("room"),
        patient.get("bed"),
    )
    referral = Referral(
        referral_id=str(row.referral_id),
        resident=resident,
        hospital=hospital(row.hospital_id, row.hospital_name, row.partner_kind),
        reason=row.reason,
        reason_code=row.reason_code,
        trigger=row.trigger,
        vitals=tuple(vital_from(v) for v in vitals),
        news2=None if news2 is None else news2_from(news2),
        alerts=tuple(active_alert(a) for a in alerts),
        created_at=row.created_at,
        state=row.state,
        history=history,
        sla_fired=frozenset(sla_fired),
        kind=row.kind,
    )
    return StoredReferral(row, referral, audit, patient, vitals, news2, alerts)


def _actor_of(audit: AuditRow) -> Actor | None:
    if audit.staff_id is None:
        return None
    return Actor(audit.staff_id, cast(Role, audit.role), cast(Side, audit.side))
