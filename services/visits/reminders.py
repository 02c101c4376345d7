"""Overdue visit reminders: for each active schedule of an admitted resident that is overdue
and not yet reminded of since it fell due, one reminder through the notification outbox to
whoever does that visit (a round: the caregiver on duty; a nurse visit: the nurse on duty; a
family-doctor visit: the resident's family doctor in the care team document). The alert
service runs this every `visit_reminders_every_s` (services/alerts/service.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.alerts.messages import Audience, Place, local_time
from services.careteam.roster import Roster, Staff, on_duty, resident_contacts
from services.careteam.team import CareTeam
from services.catalogue import text
from services.notifications.outbox import enqueue
from services.visits.due import due

__all__ = ["remind_overdue"]

log = logging.getLogger("carewatch.visits")
Conn = AsyncConnection[TupleRow]

_OVERDUE: Final = (
    "SELECT s.schedule_id, s.resident_id, s.kind, s.label, s.interval_hours, s.starts_at,"
    " s.reminded_at, (SELECT max(v.done_at) FROM visits v WHERE v.schedule_id = s.schedule_id),"
    " r.site_id, r.unit_id, r.timezone, r.display_name, r.room, r.bed, st.name, u.name,"
    " coalesce((SELECT c.granted FROM resident_consents c WHERE c.resident_id = r.resident_id"
    " AND c.kind = 'third_party_messaging' ORDER BY c.recorded_at DESC, c.id DESC LIMIT 1),"
    " false)"
    " FROM visit_schedules s JOIN residents r USING (resident_id)"
    " JOIN sites st ON st.site_id = r.site_id JOIN units u ON (u.site_id, u.unit_id) ="
    " (r.site_id, r.unit_id) WHERE s.active AND r.status = 'admitted' AND s.starts_at <= %s"
    " ORDER BY s.schedule_id FOR UPDATE OF s SKIP LOCKED"
)


def _who_visits(
    roster: Roster, kind: str, resident_id: int, site: str, unit: str, at: datetime, tz: str
) -> list[Staff]:
    if kind == "family_doctor_visit":
        return resident_contacts(roster, resident_id, "family_doctor")
    return on_duty(roster, site, unit, "nurse" if kind == "nurse_visit" else "caregiver", at, tz)


async def remind_overdue(conn: Conn, *, now: datetime, roster: Roster, team: CareTeam) -> int:
    """Queue the reminders due at `now` (in the caller's transaction); how many were queued."""
    cur = await conn.execute(_OVERDUE, [now])
    sent = 0
    for row in await cur.fetchall():
        sid, rid, kind, label, hours, starts, reminded, last = row[:8]
        site, unit, tz, name, room, bed, site_name, unit_name, consent = row[8:]
        when = due(starts_at=starts, interval=timedelta(hours=hours), last_done=last, now=now)
        if not when.overdue or (reminded is not None and reminded >= when.due_at):
            continue
        people = _who_visits(roster, kind, rid, site, unit, now, tz)
        if not people:
            log.warning("visit schedule %d overdue: nobody to remind (%s)", sid, kind)
            continue
        place = Place(site_name, unit_name, name, room, bed, messaging_consent=consent)
        for person in people:
            full = team.policy(site).full_details and consent
            lang = team.language_of(person.id, site)
            who = place.who(Audience(lang, full))
            params = {"label": label, "who": who, "when": local_time(lang, when.due_at, tz)}
            await enqueue(
                conn,
                kind="reminder",
                recipient=person.id,
                channels=person.channels,
                title=text(lang, "pages.visit_due.title", **params),
                body=text(lang, "pages.visit_due.body", where=place.where(lang), **params),
                short=text(lang, "pages.visit_due.short", **params),
            )
            sent += 1
        await conn.execute(
            "UPDATE visit_schedules SET reminded_at = %s WHERE schedule_id = %s", [now, sid]
        )
    return sent
