"""The referral store against the real database: suggestions from alerts, hand-opened
referrals, transitions with their audit rows and outbox messages, the SLA timers."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest

from services.careteam.roster import Role as StaffRole
from services.careteam.store import current_team, store_team
from services.careteam.team import CareTeam, HospitalEntry, ShiftEntry, SiteSettings, StaffEntry
from services.referrals import queries, store
from services.referrals.errors import (
    AlreadyOpen,
    IllegalTransition,
    InvalidField,
    InvalidReferral,
    NotPermitted,
    UnknownReferral,
)
from services.referrals.model import Actor, State
from tests.support import Conn, count

pytestmark = pytest.mark.services

# A site of its own, so the referral tests neither see nor disturb the other wards; and a site
# without a partner hospital.
SITE, UNIT = "ref-site", "ref-unit"
LONELY_SITE = "ref-lonely"
HOSPITAL_ID = "ref-hosp"
HOSPITAL_URL = "json://127.0.0.1:9/x"  # nothing is sent: the delivery loop is not running
STAFF: dict[str, StaffRole] = {
    "ref-cg": "caregiver",
    "ref-nurse": "nurse",
    "ref-charge": "charge_nurse",
    "ref-doc": "physician",
}
NURSE = Actor("ref-nurse", "nurse", "care")
CAREGIVER = Actor("ref-cg", "caregiver", "care")
DOCTOR = Actor("h-doc", "physician", "hospital")
HIS = Actor("his", "integrator", "hospital")
_alert_ids = itertools.count(970_000_001)


def channel(staff_id: str) -> str:
    return f"json://127.0.0.1:9/{staff_id}"


async def _configure(db_url: str) -> None:
    # Merged into whatever team the session already has: other tests' staff stay on it.
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        _, team = await current_team(conn)
        staff = [s for s in team.staff if s.id not in STAFF]
        staff += [
            StaffEntry(id=sid, name=sid, role=role, channels=(channel(sid),))
            for sid, role in STAFF.items()
        ]
        # start == end: on shift round the clock, so who is told does not depend on the time.
        shifts = [s for s in team.shifts if s.staff not in STAFF]
        shifts += [ShiftEntry(staff=sid, site=SITE, start=time(0), end=time(0)) for sid in STAFF]
        hospitals = [h for h in team.hospitals if h.id != HOSPITAL_ID]
        hospitals.append(
            HospitalEntry(
                id=HOSPITAL_ID, name="Partner Hospital", sites=(SITE,), channels=(HOSPITAL_URL,)
            )
        )
        merged = CareTeam(
            staff=tuple(staff),
            shifts=tuple(shifts),
            contacts=team.contacts,
            hospitals=tuple(hospitals),
            alerts=team.alerts,
            # These tests read the English messages; Chinese ones:
            # tests/services/alerts/test_messages_language.py.
            site_defaults=SiteSettings(language="en", details="full"),
        )
        await store_team(conn, merged, by="tests/referrals")


def configure_referral_ward(db_url: str) -> str:
    """Sites, units and the care team (staff on shift, a partner hospital) for referrals."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        for site in (SITE, LONELY_SITE):
            conn.execute("INSERT INTO sites VALUES (%s, %s) ON CONFLICT DO NOTHING", [site, site])
            conn.execute(
                "INSERT INTO units VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", [site, UNIT, UNIT]
            )
    asyncio.run(_configure(db_url))
    return SITE


def new_resident(db: Conn, site: str = SITE, name: str = "王秀英") -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, room, bed)"
        " VALUES (%s, %s, %s, '203', '2') RETURNING resident_id",
        [site, UNIT, name],
    ).fetchone()
    assert row is not None
    return int(row[0])


def deteriorating(db: Conn, resident_id: int, now: datetime, *, sick: bool = True) -> None:
    """24 h of readings every 30 min (and one too old to count); NEWS2 8 at `now` if `sick`:
    RR 25 (3), SpO2 91 (3), HR 115 (2), temp, BP and consciousness normal."""
    device = f"ref-w-{resident_id}"
    rows: list[tuple[Any, ...]] = []
    for i in range(49):
        ts = now - timedelta(minutes=30 * i)
        late = sick and i < 2
        for metric, value in (
            ("hr", 115.0 if late else 78.0),
            ("spo2", 91.0 if late else 96.0),
            ("rr", 25.0 if late else 16.0),
        ):
            rows.append((ts, device, resident_id, metric, value, "vitals"))
    for hours in (0, 6, 12, 18):
        ts = now - timedelta(hours=hours)
        for metric, value in (
            ("temp", 37.0),
            ("sbp", 120.0),
            ("dbp", 75.0),
            ("acvpu", 0.0),
            ("on_o2", 0.0),  # room air, charted (unknown oxygen leaves NEWS2 incomplete)
        ):
            rows.append((ts, "manual", resident_id, metric, value, "manual"))
    rows.append((now - timedelta(hours=30), device, resident_id, "hr", 60.0, "vitals"))
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, %s, now())",
            rows,
        )


def notifications(db: Conn, referral_id: int, after: int = 0) -> dict[str, tuple[str, list[str]]]:
    """recipient -> (title, channels) of the referral's messages with an id above `after`."""
    rows = db.execute(
        "SELECT recipient, title, channels, kind FROM notifications"
        " WHERE referral_id = %s AND notification_id > %s ORDER BY notification_id",
        [referral_id, after],
    ).fetchall()
    assert all(kind == "referral" for *_, kind in rows)
    found = {r: (t, list(c)) for r, t, c, _ in rows}
    assert len(found) == len(rows), f"someone was told twice: {rows}"
    return found


def last_notification(db: Conn) -> int:
    return count(db, "SELECT coalesce(max(notification_id), 0) FROM notifications")


def audit(db: Conn, referral_id: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT action, from_state, to_state, staff_id, role, side, note"
        " FROM referral_transitions WHERE referral_id = %s ORDER BY transition_id",
        [referral_id],
    ).fetchall()


@pytest.fixture(scope="module")
def ref_ward(db_url: str) -> str:
    return configure_referral_ward(db_url)


@pytest.fixture
async def aconn(db_url: str, ref_ward: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        yield conn


async def suggest(
    conn: psycopg.AsyncConnection[Any], resident_id: int, now: datetime, rule_id: str = "news2"
) -> int | None:
    return await store.suggest_from_alert(
        conn,
        alert_id=next(_alert_ids),
        resident_id=resident_id,
        rule_id=rule_id,
        title="NEWS2 8: high clinical risk",
        values={"total": 8, "band": "high", "rr": 3, "spo2": 3, "hr": 2},
        now=now,
    )


# --- suggestions ---------------------------------------------------------------------------


async def test_a_news2_alert_suggests_a_referral_once(
    aconn: psycopg.AsyncConnection[Any], db: Conn
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rid = new_resident(db)
    deteriorating(db, rid, now)
    before = last_notification(db)

    referral_id = await suggest(aconn, rid, now)

    assert referral_id is not None
    stored = await queries.get_referral(aconn, referral_id)
    assert stored is not None
    assert (stored.row.state, stored.row.trigger, stored.row.hospital_id) == (
        "suggested",
        "news2",
        HOSPITAL_ID,
    )
    assert stored.row.sla_due_at == now + timedelta(minutes=10)  # suggestion_confirm_s
    # The reason is a code and figures (words in each reader's language); English beside it.
    assert stored.row.reason_code is not None and stored.row.reason_code.code == "alert"
    assert dict(stored.row.reason_code.params)["rule"] == "news2"
    assert stored.row.reason.startswith("NEWS2 raised — NEWS2 8 (High risk)")
    # The snapshot: 24 h thinned per metric, the reading older than that left out.
    hr = [v for v in stored.vitals if v["metric"] == "hr"]
    assert len(hr) == 49 and min(v["value"] for v in hr) == 78.0
    assert stored.news2 is not None and stored.news2["total"] == 8
    scores = {s["parameter"]: s["score"] for s in stored.news2["sub_scores"]}
    assert scores == {"rr": 3, "spo2": 3, "on_o2": 0, "sbp": 0, "hr": 2, "acvpu": 0, "temp": 0}
    assert [a["rule_id"] for a in stored.alerts] == ["news2"]
    assert audit(db, referral_id) == [("referral.opened", None, "suggested", None, None, None, "")]
    told = notifications(db, referral_id, before)
    assert set(told) == {"ref-cg", "ref-nurse", "ref-charge"}  # the unit and the charge nurse
    assert told["ref-charge"][1] == [channel("ref-charge")]
    assert told["ref-charge"][0].startswith(f"URGENT Referral #{referral_id}, referral suggested")

    # The alert repeats, another rule fires: the suggestion is already there.
    assert await suggest(aconn, rid, now + timedelta(minutes=1)) is None
    assert await suggest(aconn, rid, now + timedelta(minutes=1), "fall.device") is None
    assert count(db, "SELECT count(*) FROM referrals WHERE resident_id = %s", rid) == 1

    # Dismissed (a final state), a new alert may suggest again.
    await store.apply_transition(
        aconn,
        referral_id=referral_id,
        to_state="dismissed",
        actor=NURSE,
        now=now + timedelta(minutes=2),
        note="seen by the GP, managed here",
    )
    assert await suggest(aconn, rid, now + timedelta(minutes=3)) not in (None, referral_id)


async def test_a_fall_suggests_even_without_vitals(
    aconn: psycopg.AsyncConnection[Any], db: Conn
) -> None:
    rid = new_resident(db)
    now = datetime.now(UTC)
    referral_id = await suggest(aconn, rid, now, "fall.motion")
    assert referral_id is not None
    stored = await queries.get_referral(aconn, referral_id)
    assert stored is not None
    assert stored.row.trigger == "fall" and stored.news2 is None and stored.vitals == []
    assert stored.alerts[0]["rule_id"] == "fall.motion"


async def test_an_open_alert_of_the_resident_is_carried_once(
    aconn: psycopg.AsyncConnection[Any], db: Conn
) -> None:
    rid = new_resident(db)
    now = datetime.now(UTC)
    deteriorating(db, rid, now)
    alert_id = next(_alert_ids)
    db.execute(
        "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
        " severity, title, opened_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, 'notified', 'critical', 'NEWS2 8', %s, %s)",
        [alert_id, f"resident:{rid}", SITE, UNIT, rid, now, now],
    )
    db.execute(
        "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject, resident_id,"
        " title, severity, opened_at, first_ts, last_ts, count, updated_at)"
        " VALUES (%s, %s, 'news2', %s, %s, %s, 'NEWS2 8', 'critical', %s, %s, %s, 1, %s)",
        [alert_id, alert_id, f"news2:resident:{rid}", f"resident:{rid}", rid, now, now, now, now],
    )
    referral_id = await store.suggest_from_alert(
        aconn,
        alert_id=alert_id,
        resident_id=rid,
        rule_id="news2",
        title="NEWS2 8",
        values={"total": 8},
        now=now,
    )
    assert referral_id is not None
    stored = await queries.get_referral(aconn, referral_id)
    assert stored is not None
    assert [(a["alert_id"], a["severity"]) for a in stored.alerts] == [(alert_id, "critical")]
    assert stored.row.alert_id == alert_id


@pytest.mark.parametrize(
    ("site", "sick", "rule_id"),
    [(LONELY_SITE, True, "news2"), (SITE, False, "news2"), (SITE, True, "vital.spo2.low")],
    ids=["no-partner-hospital", "stored-readings-below-7", "rule-that-does-not-suggest"],
)
async def test_no_suggestion(
    aconn: psycopg.AsyncConnection[Any], db: Conn, site: str, sick: bool, rule_id: str
) -> None:
    rid = new_resident(db, site)
    now = datetime.now(UTC)
    deteriorating(db, rid, now, sick=sick)
    assert await suggest(aconn, rid, now, rule_id) is None
    assert count(db, "SELECT count(*) FROM referrals WHERE resident_id = %s", rid) == 0


# --- opening by hand and the workflow's refusals -------------------------------------------


async def test_staff_open_refusals_write_nothing(
    aconn: psycopg.AsyncConnection[Any], db: Conn
) -> None:
    rid = new_resident(db)
    now = datetime.now(UTC)
    with pytest.raises(NotPermitted):
        await store.open_referral(aconn, resident_id=rid, actor=CAREGIVER, reason="x", now=now)
    with pytest.raises(InvalidField) as unknown:
        await store.open_referral(
            aconn, resident_id=rid, actor=NURSE, reason="x", now=now, hospital_id="nowhere"
        )
    assert unknown.value.field == "hospital_id"
    with pytest.raises(InvalidField) as lonely:
        await store.open_referral(
            aconn, resident_id=new_resident(db, LONELY_SITE), actor=NURSE, reason="x", now=now
        )
    assert lonely.value.field == "resident_id"
    assert count(db, "SELECT count(*) FROM referrals WHERE resident_id = %s", rid) == 0

    referral_id = await store.open_referral(
        aconn, resident_id=rid, actor=NURSE, reason="Suspected hip fracture", now=now
    )
    with pytest.raises(AlreadyOpen) as again:
        await store.open_referral(aconn, resident_id=rid, actor=NURSE, reason="again", now=now)
    assert again.value.referral_id == referral_id
    with pytest.raises(IllegalTransition):
        await store.apply_transition(
            aconn, referral_id=referral_id, to_state="admitted", actor=DOCTOR, now=now
        )
    with pytest.raises(NotPermitted):
        await store.apply_transition(
            aconn, referral_id=referral_id, to_state="accepted", actor=NURSE, now=now
        )
    with pytest.raises(InvalidReferral, match="needs a note"):
        await store.apply_transition(
            aconn, referral_id=referral_id, to_state="declined", actor=DOCTOR, now=now
        )
    with pytest.raises(UnknownReferral):
        await store.apply_transition(
            aconn, referral_id=10**12, to_state="accepted", actor=DOCTOR, now=now
        )
    stored = await queries.get_referral(aconn, referral_id)
    assert stored is not None and stored.row.state == "requested"
    assert len(audit(db, referral_id)) == 1


# --- timers --------------------------------------------------------------------------------


async def test_an_unanswered_request_escalates_once(
    aconn: psycopg.AsyncConnection[Any], db: Conn
) -> None:
    # Far from every other test's clock, so no other referral's timer falls due in the window.
    t0 = datetime(2091, 3, 1, 8, 0, tzinfo=UTC)
    rid = new_resident(db)
    referral_id = await store.open_referral(
        aconn, resident_id=rid, actor=NURSE, reason="Suspected hip fracture", now=t0
    )
    await store.sla_step(aconn, t0 + timedelta(minutes=14))  # anything else due before
    before = last_notification(db)
    assert await store.sla_step(aconn, t0 + timedelta(minutes=14, seconds=59)) == 0

    assert await store.sla_step(aconn, t0 + timedelta(minutes=15)) == 1
    assert await store.sla_step(aconn, t0 + timedelta(minutes=15)) == 0
    assert await store.sla_step(aconn, t0 + timedelta(minutes=45)) == 0

    told = notifications(db, referral_id, before)
    assert set(told) == {"ref-charge", "ref-doc", HOSPITAL_ID}
    assert told[HOSPITAL_ID] == (
        f"URGENT Referral #{referral_id}, no answer from the hospital: 王秀英 → Partner Hospital",
        [HOSPITAL_URL],
    )
    assert audit(db, referral_id)[-1][:3] == (
        "referral.sla.hospital_answer",
        "requested",
        "requested",
    )
    stored = await queries.get_referral(aconn, referral_id)
    assert stored is not None and stored.row.sla_due_at is None
    assert stored.referral.sla_fired == {"hospital_answer"}


async def test_in_transit_reminds_once_per_period(
    aconn: psycopg.AsyncConnection[Any], db: Conn
) -> None:
    t0 = datetime(2093, 3, 1, 8, 0, tzinfo=UTC)
    rid = new_resident(db)
    referral_id = await store.open_referral(
        aconn, resident_id=rid, actor=NURSE, reason="Chest pain", now=t0
    )
    left = t0 + timedelta(minutes=20)
    steps: list[tuple[State, Actor, datetime]] = [
        ("accepted", DOCTOR, t0 + timedelta(minutes=5)),
        ("in_transit", CAREGIVER, left),
    ]
    for to_state, actor, at in steps:
        await store.apply_transition(
            aconn, referral_id=referral_id, to_state=to_state, actor=actor, now=at
        )
    await store.sla_step(aconn, left + timedelta(hours=3))  # anything else due before
    stored = await queries.get_referral(aconn, referral_id)
    assert stored is not None and stored.row.sla_due_at == left + timedelta(hours=4)
    fired = [await store.sla_step(aconn, left + timedelta(hours=h)) for h in (4, 4, 5, 8, 8, 8.5)]
    assert fired == [1, 0, 0, 1, 0, 0]
    stored = await queries.get_referral(aconn, referral_id)
    assert stored is not None
    assert stored.referral.sla_fired == {"transit_admit:1", "transit_admit:2"}
    assert stored.row.sla_due_at == left + timedelta(hours=12)
    # Admission stops the timer.
    await store.apply_transition(
        aconn,
        referral_id=referral_id,
        to_state="admitted",
        actor=HIS,
        now=left + timedelta(hours=9),
    )
    assert await store.sla_step(aconn, left + timedelta(hours=13)) == 0


async def test_an_alert_about_an_unknown_resident_suggests_nothing(
    aconn: psycopg.AsyncConnection[Any],
) -> None:
    # Logged, not raised: the alert service's transaction carries on.
    assert await suggest(aconn, 10**12, datetime.now(UTC)) is None
