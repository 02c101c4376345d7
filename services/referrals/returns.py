"""Downward referral (issue 17): the hospital side sends a resident back with a discharge
summary, and the care side starts a post-discharge watch period. One transaction: the
return's row (kind `return`, state `returned`), its audit row and messages, and the watch."""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.careteam.store import current_team
from services.referrals import workflow
from services.referrals.codec import hospital
from services.referrals.discharge import DischargeSummary
from services.referrals.effects import directory_of, perform
from services.referrals.errors import InvalidField
from services.referrals.model import DEFAULT_CONFIG, Actor, ReferralConfig, configured
from services.referrals.snapshot import load_subject
from services.referrals.store import insert_referral, reserve_id
from services.referrals.watch_store import Watch, start_watch

Conn = AsyncConnection[TupleRow]


async def _referred(conn: Conn, resident_id: int, hospital_id: str) -> bool:
    # A referral the hospital was sent (a suggestion or a dismissed one never reached it).
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM referrals WHERE resident_id = %s AND hospital_id = %s"
        " AND kind <> 'return' AND state NOT IN ('suggested', 'dismissed'))",
        [resident_id, hospital_id],
    )
    found = await cur.fetchone()
    return bool(found and found[0])


async def open_return(
    conn: Conn,
    *,
    resident_id: int,
    hospital_id: str,
    actor: Actor,
    summary: DischargeSummary,
    now: datetime,
    watch_days: int | None = None,
    note: str = "",
    config: ReferralConfig = DEFAULT_CONFIG,
) -> tuple[int, Watch]:
    """Record the return from `hospital_id` and start (or extend) the watch period. Raises
    InvalidField when the resident is unknown, lives at no site `hospital_id` partners, or was
    never referred to it (one answer for all: a hospital learns nothing of residents it was
    not sent), NotPermitted (not the hospital side) or InvalidReferral."""
    unknown = InvalidField("resident_id", f"no resident {resident_id} was referred to you")
    async with conn.transaction():
        try:
            subject = await load_subject(conn, resident_id)
        except InvalidField:
            raise unknown from None
        _, team = await current_team(conn)
        partner = next(
            (h for h in team.hospitals_for(subject.resident.site_id) if h.id == hospital_id), None
        )
        if partner is None or not await _referred(conn, resident_id, hospital_id):
            raise unknown
        rid = await reserve_id(conn)
        referral, effects = workflow.open_return(
            referral_id=str(rid),
            resident=subject.resident,
            hospital=hospital(partner.id, partner.name, partner.kind),
            reason="; ".join(f"{d.code} {d.display}" for d in summary.diagnoses),
            actor=actor,
            now=now,
            note=note,
        )
        await insert_referral(
            conn, rid, referral, subject, alert_id=None, alerts=[], discharge=summary.as_json()
        )
        await perform(conn, rid, referral, effects, await directory_of(conn, team), now)
        watch = await start_watch(
            conn,
            resident_id=resident_id,
            referral_id=rid,
            now=now,
            days=watch_days or configured(config, team.referrals).watch_days,
        )
        await _back_from_hospital(conn, resident_id, rid, partner.name, now)
    return rid, watch


async def _back_from_hospital(
    conn: Conn, resident_id: int, referral_id: int, hospital_name: str, now: datetime
) -> None:
    """A resident marked in hospital is admitted again by their return: monitoring (and the
    watch period's tighter rules) resumes at once, not when someone remembers to say so."""
    changed = await conn.execute(
        "UPDATE residents SET status = 'admitted' WHERE resident_id = %s"
        " AND status = 'in_hospital'",
        [resident_id],
    )
    if changed.rowcount:
        await conn.execute(
            "INSERT INTO resident_status_history (resident_id, status, note, set_by, set_at)"
            " VALUES (%s, 'admitted', %s, %s, %s)",
            [
                resident_id,
                f"returned from {hospital_name} (referral {referral_id})",
                f"referral/{referral_id}",
                now,
            ],
        )
