"""Reminders to check in: at a site whose care team settings ask for them
(`checkin_reminder_min`), a member of staff with a shift beginning today who has not checked in
there yet is reminded once, that long ahead of the shift (or at once, if it has begun), through
the notification outbox with a link to the check-in page. The alert service runs this with its
other reminders (services/alerts/service.py)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.careteam.checkins import due_today
from services.careteam.roster import Roster
from services.careteam.team import CareTeam
from services.catalogue import text
from services.notifications.outbox import enqueue

__all__ = ["checked_in", "remind_to_check_in"]

Conn = AsyncConnection[TupleRow]


async def checked_in(conn: Conn, *, site_id: str, day: date) -> set[str]:
    """Roster ids with a check-in at the site that day (any unit)."""
    cur = await conn.execute(
        "SELECT DISTINCT p.staff_id FROM staff_checkins c JOIN staff_people p USING (person_id)"
        " WHERE c.site_id = %s AND c.day = %s",
        [site_id, day],
    )
    return {str(r[0]) for r in await cur.fetchall()}


async def remind_to_check_in(
    conn: Conn, *, now: datetime, roster: Roster, team: CareTeam, base_url: str
) -> int:
    """Queue the reminders due at `now` (in the caller's transaction); how many were queued."""
    sent = 0
    for site in sorted({shift.site_id for shift in roster.shifts}):
        ahead = team.policy(site).checkin_reminder
        if ahead is None:
            continue
        tz = ZoneInfo(team.alerts.timezone_of(site))
        local = now.astimezone(tz)
        day = local.date()
        for due in due_today(roster, site, local, await checked_in(conn, site_id=site, day=day)):
            starts = datetime.combine(day, due.start, tz)
            if local < starts - ahead:
                continue
            claimed = await conn.execute(
                "INSERT INTO staff_checkin_reminders (staff_id, site_id, day, sent_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [due.staff_id, site, day, now],
            )
            if not claimed.rowcount:
                continue  # reminded today already
            person = roster.staff[due.staff_id]
            lang = team.language_of(person.id, site)
            params = {"start": starts.strftime("%H:%M"), "link": f"{base_url}/checkin"}
            await enqueue(
                conn,
                kind="reminder",
                recipient=person.id,
                channels=person.channels,
                title=text(lang, "pages.checkin_due.title", **params),
                body=text(lang, "pages.checkin_due.body", **params),
                short=text(lang, "pages.checkin_due.short", **params),
            )
            sent += 1
    return sent
