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
    InvalidField when the resident is unknown or lives at no site `hospital_id` partners (one
    answer for both: a hospital learns nothing of residents elsewhere), NotPermitted (not the
    hospital side) or InvalidReferral."""
    unknown = InvalidField("resident_id", f"no resident {resident_id} at a site you partner")
    async with conn.transaction():
        try:
            subject = await load_subject(conn, resident_id)
        except InvalidField:
            raise unknown from None
        _, team = await current_team(conn)
        partner = next(
            (h for h in team.hospitals_for(subject.resident.site_id) if h.id == hospital_id), None
        )
        if partner is None:
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
    return rid, watch
