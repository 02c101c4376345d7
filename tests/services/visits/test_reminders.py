"""Overdue visit reminders (services/visits/reminders.py) against the real database: one per
lateness to whoever does the visit, again only once a visit has been done and the next one is
late; a family-doctor visit goes to the resident's linked family doctor; nobody to remind
sends nothing and leaves the schedule to be reminded later."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import psycopg
import pytest
from psycopg import AsyncConnection

from services.careteam.roster import ResidentContacts, Roster, Shift, Staff
from services.careteam.team import CareTeam
from services.visits.reminders import remind_overdue

pytestmark = pytest.mark.services

SITE, UNIT = "rem-site", "rem-u"
NOW = datetime.now(UTC).replace(microsecond=0)


def setup(db_url: str, kind: str) -> tuple[int, int]:
    with psycopg.connect(db_url, autocommit=True) as db:
        db.execute("INSERT INTO sites VALUES (%s, '提醒站') ON CONFLICT DO NOTHING", [SITE])
        db.execute("INSERT INTO units VALUES (%s, %s, '一区') ON CONFLICT DO NOTHING", [SITE, UNIT])
        row = db.execute(
            "INSERT INTO residents (site_id, unit_id, display_name, room, bed) VALUES"
            " (%s, %s, '周平', '5', '1') RETURNING resident_id",
            [SITE, UNIT],
        ).fetchone()
        assert row is not None
        made = db.execute(
            "INSERT INTO visit_schedules (resident_id, kind, label, interval_hours, starts_at,"
            " created_by) VALUES (%s, %s, '血压', 12, %s, 'test') RETURNING schedule_id",
            [row[0], kind, NOW - timedelta(hours=13)],
        ).fetchone()
        assert made is not None
        return int(row[0]), int(made[0])


def roster(rid: int) -> Roster:
    return Roster.of(
        [
            Staff("rem-cg", "护理员", "caregiver", ("json://127.0.0.1:9/cg",)),
            Staff("rem-fd", "家庭医生", "family_doctor", ("json://127.0.0.1:9/fd",)),
        ],
        [Shift("rem-cg", SITE, time(0), time(0))],
        [ResidentContacts(rid, SITE, UNIT, family_doctors=("rem-fd",))],
    )


@pytest.mark.parametrize(
    ("kind", "to"), [("vitals_round", "rem-cg"), ("family_doctor_visit", "rem-fd")]
)
async def test_one_reminder_per_lateness_to_whoever_does_the_visit(
    db_url: str, ward: str, kind: str, to: str
) -> None:
    rid, sid = setup(db_url, kind)
    async with await AsyncConnection.connect(db_url, autocommit=True) as conn:
        # Private by default: the page names the bed, not the resident (no consent given).
        await conn.execute(
            "UPDATE residents SET display_name = %s WHERE resident_id = %s", [f"周平{rid}", rid]
        )
        team = CareTeam()
        assert await remind_overdue(conn, now=NOW, roster=Roster(), team=team) == 0
        assert await remind_overdue(conn, now=NOW, roster=roster(rid), team=team) == 1
        assert (
            await remind_overdue(
                conn, now=NOW + timedelta(minutes=5), roster=roster(rid), team=team
            )
            == 0
        )
        cur = await conn.execute(
            "SELECT recipient, title, body FROM notifications WHERE kind = 'reminder'"
            " AND recipient = %s AND body LIKE '%%提醒站%%' ORDER BY notification_id DESC LIMIT 1",
            [to],
        )
        row = await cur.fetchone()
        assert row is not None
        assert row[1] == "逾期未做：血压 — 5 房 1 床"
        assert f"周平{rid}" not in row[1] + row[2]
        # Done, then late again: one more.
        await conn.execute(
            "INSERT INTO visits (schedule_id, resident_id, done_at, done_by) VALUES"
            " (%s, %s, %s, 'test')",
            [sid, rid, NOW],
        )
        later = NOW + timedelta(hours=13)
        assert await remind_overdue(conn, now=later, roster=roster(rid), team=team) == 1
        assert await remind_overdue(conn, now=later, roster=roster(rid), team=team) == 0
        cur = await conn.execute(
            "SELECT count(*) FROM notifications WHERE kind = 'reminder' AND recipient = %s"
            " AND body LIKE '%%提醒站%%'",
            [to],
        )
        assert await cur.fetchone() is not None
        await conn.execute(
            "UPDATE visit_schedules SET active = false WHERE schedule_id = %s", [sid]
        )
