"""Issue 18, indicators: a month seeded in the real database for a site of its own, read through
`GET /api/v1/indicators`. Every expected figure is worked out by hand below from the seeded
rows (not by the code under test); the CSV and the workbook carry the JSON's figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from psycopg.types.json import Jsonb

from ingest.presence import PresenceBook
from ingest.writer import store_spans
from rules.vocabulary import OFFLINE_AFTER
from services.catalogue import text
from tests.support import Conn, count, login_as

SITE = "ind1"  # a site of its own: no other test's rows in its figures
REGION = "ind-east"  # its region, with one more site
SITE2 = "ind2"
UNITS = ("ind-a", "ind-b")
MONTH = {"site": SITE, "from": "2026-11-01", "to": "2026-11-30"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _resident(db: Conn, admitted: str, ability: str | None, conditions: list[str]) -> int:
    assessed = None if ability is None else "2026-01-01"
    due = None if ability is None else "2027-01-01"
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, created_at, ability_level,"
        " ability_assessed_on, ability_due_on, conditions)"
        " VALUES (%s, %s, 'Indicator resident', %s, %s, %s, %s, %s) RETURNING resident_id",
        [SITE, UNITS[0], utc(admitted), ability, assessed, due, conditions],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _status(db: Conn, resident: int, status: str, at: str) -> None:
    db.execute(
        "INSERT INTO resident_status_history (resident_id, status, set_by, set_at)"
        " VALUES (%s, %s, 'seed', %s)",
        [resident, status, utc(at)],
    )


_ids = iter(range(7_770_000_001, 7_770_000_100))


def _incident(db: Conn, resident: int, opened: str, ack_s: float | None) -> int:
    incident = next(_ids)
    at = utc(opened)
    acked = None if ack_s is None else at + timedelta(seconds=ack_s)
    db.execute(
        "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
        " severity, title, opened_at, acknowledged_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, 'notified', 'high', 'seed', %s, %s, %s)",
        [incident, f"resident:{resident}", SITE, UNITS[0], resident, at, acked, at],
    )
    return incident


def _alert(
    db: Conn, incident: int, rule: str, opened: str, resolve_s: float | None, outcome: str | None
) -> None:
    alert = next(_ids)
    at = utc(opened)
    done = None if resolve_s is None else at + timedelta(seconds=resolve_s)
    db.execute(
        "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject, title,"
        " severity, opened_at, first_ts, last_ts, count, outcome, resolved_at, resolved_by,"
        " updated_at) VALUES (%s, %s, %s, %s, 's', 'seed', 'high', %s, %s, %s, 1, %s, %s,"
        " %s, %s)",
        [alert, incident, rule, f"ind{alert}", at, at, at, outcome, done,
         None if done is None else "seed", at],
    )  # fmt: skip


def _event(db: Conn, incident: int, kind: str, at: str, **data: object) -> None:
    db.execute(
        "INSERT INTO alert_events (incident_id, ts, kind, data) VALUES (%s, %s, %s, %s)",
        [incident, utc(at), kind, Jsonb(data)],
    )


def _referral(db: Conn, resident: int, steps: list[tuple[str, str]]) -> None:
    row = db.execute(
        "INSERT INTO referrals (resident_id, site_id, unit_id, hospital_id, hospital_name,"
        " state, trigger, reason, patient, created_at, updated_at)"
        " VALUES (%s, %s, %s, 'h1', 'Seed hospital', %s, 'staff', 'seed', '{}', %s, %s)"
        " RETURNING referral_id",
        [resident, SITE, UNITS[0], steps[-1][0], utc(steps[0][1]), utc(steps[-1][1])],
    ).fetchone()
    assert row is not None
    for to, at in steps:
        db.execute(
            "INSERT INTO referral_transitions (referral_id, at, action, to_state)"
            " VALUES (%s, %s, %s, %s)",
            [row[0], utc(at), f"referral.{to}", to],
        )


def _observation(db: Conn, resident: int, at: str, metrics: tuple[str, ...]) -> None:
    for metric in metrics:
        db.execute(
            "INSERT INTO manual_observations (resident_id, metric, value, ts, recorded_by)"
            " VALUES (%s, %s, 1, %s, 'seed')",
            [resident, metric, utc(at)],
        )


def _outbreak(
    db: Conn, syndrome: str, opened: str, status: str, reported: str | None, drill: bool = False
) -> int:
    at = utc(opened)
    closed = None if status == "open" else at + timedelta(hours=3)
    row = db.execute(
        "INSERT INTO outbreaks (site_id, unit_id, syndrome, rule_id, status, opened_at,"
        " updated_at, reported_at, reported_to, closed_by, closed_at, drill)"
        " VALUES (%s, %s, %s, 'seed', %s, %s, %s, %s, %s, %s, %s, %s) RETURNING outbreak_id",
        [SITE, UNITS[1], syndrome, status, at, at, reported and utc(reported),
         reported and "CDC", closed and "seed", closed, drill],
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def month(db_url: str, ward: str) -> None:
    seed_month(db_url)


def seed_month(db_url: str) -> None:
    """November 2026 at a site in Asia/Shanghai (UTC+8): the month runs from
    2026-10-31T16:00Z to 2026-11-30T16:00Z."""
    with psycopg.connect(db_url, autocommit=True) as db:
        _seed(db)


def _seed(db: Conn) -> None:
    if count(db, "SELECT count(*) FROM sites WHERE site_id = %s", SITE):
        # Seeded already in this session's database (the web page's test uses it too). The
        # alert tests truncate the alert tables between them: put the month's alerts back.
        # (Only the seed's own: an alert service run meanwhile may have paged the seeded open
        # outbreak as overdue.)
        seeded = "SELECT count(*) FROM incidents WHERE site_id = %s AND title = 'seed'"
        if not count(db, seeded, SITE):
            r1, r2, r3 = _residents_of(db, SITE)[:3]
            _seed_alerts(db, r1, r2, r3)
            _seed_second_site_fall(db, _residents_of(db, SITE2)[0])
        return
    db.execute("INSERT INTO regions VALUES (%s, 'Indicator district')", [REGION])
    db.execute("INSERT INTO regions VALUES ('ind-west', 'Another district')")
    db.execute(
        "INSERT INTO sites (site_id, name, region_id) VALUES (%s, 'Indicator site', %s)",
        [SITE, REGION],
    )
    for unit in UNITS:
        db.execute("INSERT INTO units VALUES (%s, %s, 'Indicator unit')", [SITE, unit])
    # Residents: r1 the whole month (30 days); r2 from 11 Nov local (20 days) less 5 in
    # hospital (21-26 Nov): 15; r3 discharged on 16 Nov local: 15; r4 admitted at midnight
    # 1 Dec local (still 30 Nov in UTC): 0; r5 discharged at 23:00 31 Oct local: 0.
    r1 = _resident(db, "2026-10-01T00:00", "severe", ["dementia", "copd"])
    r2 = _resident(db, "2026-11-10T16:00", "mild", [])
    _status(db, r2, "in_hospital", "2026-11-20T16:00")
    _status(db, r2, "admitted", "2026-11-25T16:00")
    r3 = _resident(db, "2026-09-01T00:00", "complete_loss", [])
    _status(db, r3, "discharged", "2026-11-15T16:00")
    r4 = _resident(db, "2026-11-30T16:00", "severe", ["dementia"])
    r5 = _resident(db, "2026-08-01T00:00", "severe", ["dementia"])
    _status(db, r5, "discharged", "2026-10-31T15:00")

    _seed_alerts(db, r1, r2, r3)

    # Referrals: answered in 10 min and returned; declined after 20 min; never answered;
    # requested in October and returned in November; a suggestion dismissed.
    _referral(db, r1, [("requested", "2026-11-02T01:00"), ("accepted", "2026-11-02T01:10"),
                       ("in_transit", "2026-11-02T02:00"), ("admitted", "2026-11-02T03:00"),
                       ("returned", "2026-11-08T00:00")])  # fmt: skip
    _referral(db, r2, [("requested", "2026-11-15T00:00"), ("declined", "2026-11-15T00:20")])
    _referral(db, r3, [("requested", "2026-11-06T00:00"), ("cancelled", "2026-11-06T01:00")])
    _referral(db, r1, [("requested", "2026-10-20T00:00"), ("accepted", "2026-10-20T00:05"),
                       ("returned", "2026-11-01T03:00")])  # fmt: skip
    _referral(db, r2, [("suggested", "2026-11-03T00:00"), ("dismissed", "2026-11-03T00:30")])

    # Observation sets: two in the month (one of two readings), one on 1 Dec local.
    _observation(db, r1, "2026-11-04T00:00", ("hr", "temp"))
    _observation(db, r2, "2026-11-13T00:00", ("spo2",))
    _observation(db, r1, "2026-11-30T16:30", ("hr",))

    # Outbreaks: reported after 3 h, ruled out, still open; a drill (never counted).
    o1 = _outbreak(db, "gastrointestinal", "2026-11-09T00:00", "reported", "2026-11-09T03:00")
    staff = db.execute(
        "INSERT INTO staff_people (staff_id, name) VALUES ('ind-staff', 'Indicator staff')"
        " RETURNING person_id"
    ).fetchone()
    assert staff is not None
    for kind, person in (("resident", r1), ("staff", staff[0])):
        db.execute(
            "INSERT INTO outbreak_cases (outbreak_id, person_kind, person_id, unit_id, onset,"
            " signs, added_at) VALUES (%s, %s, %s, %s, %s, '{vomiting}', %s)",
            [o1, kind, person, UNITS[1], utc("2026-11-08T00:00"), utc("2026-11-09T00:00")],
        )
    _outbreak(db, "respiratory", "2026-11-22T00:00", "ruled_out", None)
    _outbreak(db, "fever", "2026-11-25T00:00", "open", None)
    _outbreak(db, "gastrointestinal", "2026-11-10T00:00", "reported", "2026-11-10T01:00", True)
    _seed_devices(db)
    _seed_schedules(db, r1)
    _seed_contracts(db, r1, r2, r4)

    # A second site of the region: one resident the whole month (30 days, not assessed), one
    # real fall acknowledged in 30 s and resolved in 100 s.
    db.execute(
        "INSERT INTO sites (site_id, name, region_id) VALUES (%s, 'Second site', %s)",
        [SITE2, REGION],
    )
    db.execute("INSERT INTO units VALUES (%s, %s, 'Second unit')", [SITE2, UNITS[0]])
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, created_at)"
        " VALUES (%s, %s, 'Indicator resident', %s) RETURNING resident_id",
        [SITE2, UNITS[0], utc("2026-06-01T00:00")],
    ).fetchone()
    assert row is not None
    _seed_second_site_fall(db, int(row[0]))


def _device(db: Conn, device: str, kind: str, created: str, retired: str | None = None) -> None:
    db.execute(
        "INSERT INTO devices (device_id, site_id, kind, secret_hash, created_at, retired_at)"
        " VALUES (%s, %s, %s, 'seed', %s, %s)",
        [device, SITE, kind, utc(created), retired and utc(retired)],
    )


def _heard(db: Conn, device: str, table: str, at: str, **extra: object) -> None:
    """A message from `device` received at `at` (its own ts the same). Its raw row, and what
    the ingest worker makes of it for online time (`_store_presence`)."""
    _HEARD.append((utc(at), device, table == "device_status" and extra.get("online") is False))
    defaults: dict[str, dict[str, object]] = {
        "readings": {"metric": "hr", "value": 70, "source": "seed"},
        "motion_windows": {"hz": 50, "ax": [0.0], "ay": [0.0], "az": [1.0]},
        "device_events": {"type": "sos"},
        "device_status": {"online": True},
    }
    columns: dict[str, object] = {"ts": utc(at), "device_id": device, "received_at": utc(at)}
    columns |= defaults[table] | extra
    names = ", ".join(columns)
    db.execute(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
        list(columns.values()),
    )


_HEARD: list[tuple[datetime, str, bool]] = []


def _store_presence(db: Conn) -> None:
    """The presence spans the worker keeps, from the messages in the order received (the
    worker's own handling is tested in tests/ingest/test_presence.py and
    tests/e2e/test_ingest_presence.py)."""
    book = PresenceBook(OFFLINE_AFTER)
    for at, device, down in sorted(_HEARD):
        book.heard(device, at, down=down)
    rows = book.sweep(datetime.max.replace(tzinfo=UTC))
    with db.cursor() as cur:
        store_spans(cur, rows)


def _seed_devices(db: Conn) -> None:
    """The month is 720 hours (2026-10-31T16:00Z to 2026-11-30T16:00Z)."""
    # A wearable all month (720 h), worn from before the month (only the last event before it
    # counts) until 10 Nov 16:00Z (240 h), and again from 20 Nov 16:00Z to the end (240 h).
    _device(db, "ind-w1", "wearable", "2026-10-01T00:00")
    for at, worn in [("2026-10-10T00:00", False), ("2026-10-20T00:00", True),
                     ("2026-11-10T16:00", False), ("2026-11-20T16:00", True),
                     ("2026-12-01T00:00", False)]:  # fmt: skip
        _heard(db, "ind-w1", "device_events", at, type="wear_on" if worn else "wear_off")
    # Online, each message for 5 min or until the next: the two wear events in the month
    # 5 + 5 min; heard 2 min before the month: 3 min of it; a status, readings 3 and 6 min
    # later: 3 + 3 + 5 min; a reading 2 min before the last will (offline status): 2 min,
    # then a reading 1 min after it: 5 min; a motion window and an event 10 min later: 5 + 5
    # min; a reading 1 min before the month ends: 1 min. In all 42 min. (Read from the
    # presence spans: 10-31 15:58 for 5 min; 11-02 00:00 to 00:11; 23:58 to 11-03 00:00,
    # ended; 00:01 for 5 min; ...)
    _heard(db, "ind-w1", "readings", "2026-10-31T15:58")
    _heard(db, "ind-w1", "device_status", "2026-11-02T00:00")
    _heard(db, "ind-w1", "readings", "2026-11-02T00:03")
    _heard(db, "ind-w1", "readings", "2026-11-02T00:06", metric="spo2")
    _heard(db, "ind-w1", "readings", "2026-11-02T23:58")
    _heard(db, "ind-w1", "device_status", "2026-11-03T00:00", online=False)
    _heard(db, "ind-w1", "readings", "2026-11-03T00:01")
    _heard(db, "ind-w1", "motion_windows", "2026-11-04T00:00")
    _heard(db, "ind-w1", "device_events", "2026-11-04T00:10")
    _heard(db, "ind-w1", "readings", "2026-11-30T15:59")
    # A gateway from 16 Nov 04:00Z, retired 26 Nov 04:00Z: 240 h, online 5 min of them.
    _device(db, "ind-g1", "gateway", "2026-11-16T04:00", "2026-11-26T04:00")
    _heard(db, "ind-g1", "device_status", "2026-11-16T05:00")
    # Not in the month: retired before it, provisioned after it.
    _device(db, "ind-w2", "wearable", "2026-10-01T00:00", "2026-10-15T00:00")
    _device(db, "ind-b1", "bed_sensor", "2026-12-01T00:00")
    _store_presence(db)
    # October, for the upgrade to presence spans: a message stored before it (a raw row, no
    # span) counts nothing; a span the worker wrote counts alone (an hour, ended).
    db.execute(
        "INSERT INTO readings (ts, device_id, metric, value, source, received_at)"
        " VALUES (%s, 'ind-w2', 'hr', 70, 'seed', %s)",
        [utc("2026-10-05T00:00"), utc("2026-10-05T00:00")],
    )
    with db.cursor() as cur:
        store_spans(cur, [("ind-w2", utc("2026-10-06T00:00"), utc("2026-10-06T01:00"), True)])


def _schedule(db: Conn, resident: int, kind: str, hours: int, starts: str, active: bool) -> int:
    row = db.execute(
        "INSERT INTO visit_schedules (resident_id, kind, label, interval_hours, starts_at,"
        " active, created_by) VALUES (%s, %s, 'seed', %s, %s, %s, 'seed') RETURNING schedule_id",
        [resident, kind, hours, utc(starts), active],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _seed_schedules(db: Conn, resident: int) -> None:
    # Daily rounds, last done before the month at 31 Oct 10:00Z: due 1 Nov 10:00 (done at
    # 09:00, on time), 2 Nov 09:00 (done 12:00, late), 3 Nov 12:00 and 4 Nov 12:00 (missed),
    # 5 Nov 12:00 (done 13:00, late), then 6 Nov 13:00 to 30 Nov 13:00: 25 missed. 30 due.
    rounds = _schedule(db, resident, "vitals_round", 24, "2026-10-30T16:00", True)
    for at in ("2026-10-31T10:00", "2026-11-01T09:00", "2026-11-02T12:00", "2026-11-05T13:00"):
        db.execute(
            "INSERT INTO visits (schedule_id, resident_id, done_at, done_by)"
            " VALUES (%s, %s, %s, 'seed')",
            [rounds, resident, utc(at)],
        )
    # A monthly family-doctor visit from 15 Nov, done a day early: on time.
    doctor = _schedule(db, resident, "family_doctor_visit", 720, "2026-11-15T00:00", True)
    db.execute(
        "INSERT INTO visits (schedule_id, resident_id, done_at, done_by)"
        " VALUES (%s, %s, %s, 'seed')",
        [doctor, resident, utc("2026-11-14T00:00")],
    )
    # A yearly nurse visit due 20 Nov, not done: within its interval, pending.
    _schedule(db, resident, "nurse_visit", 8784, "2026-11-20T00:00", True)
    # An ended schedule and one starting after the month: not counted.
    _schedule(db, resident, "vitals_round", 1, "2026-10-01T00:00", False)
    _schedule(db, resident, "vitals_round", 1, "2026-12-05T00:00", True)


def _seed_contracts(db: Conn, r1: int, r2: int, r4: int) -> None:
    """On 30 Nov (the last day): disabled r1, r2, r4, of them r1 and r4 contracted (r2's ended
    the day before; r4's starts that day); aged 80+ r1 (by birth date) and r2, r1 contracted;
    special difficulty r1, contracted."""
    db.execute(
        "INSERT INTO users (username, password_hash, role) VALUES ('ind-fd', 'x', 'family_doctor')"
    )
    needs = [(r1, ["disabled", "special_difficulty"]), (r2, ["disabled", "aged_80_plus"]),
             (r4, ["disabled"])]  # fmt: skip
    for resident, categories in needs:
        db.execute(
            "UPDATE residents SET special_needs = %s WHERE resident_id = %s", [categories, resident]
        )
    db.execute("UPDATE residents SET birth_date = '1940-01-01' WHERE resident_id = %s", [r1])
    for resident, start, end in [(r1, "2026-01-01", "2026-12-31"), (r2, "2026-01-01",
                                 "2026-11-29"), (r4, "2026-11-30", "2027-11-29")]:  # fmt: skip
        db.execute(
            "INSERT INTO family_doctor_contracts (resident_id, team, doctor, start_on, end_on,"
            " service_package, created_by) VALUES (%s, 'seed', 'ind-fd', %s, %s, 'basic', 'seed')",
            [resident, start, end],
        )


def _residents_of(db: Conn, site: str) -> list[int]:
    rows = db.execute(
        "SELECT resident_id FROM residents WHERE site_id = %s ORDER BY resident_id", [site]
    ).fetchall()
    return [int(r[0]) for r in rows]


def _seed_alerts(db: Conn, r1: int, r2: int, r3: int) -> None:
    # A fall, acknowledged in 120 s, resolved actionable in 600 s; its long lie in 900 s.
    i1 = _incident(db, r1, "2026-11-03T02:00", 120)
    _alert(db, i1, "fall.motion", "2026-11-03T02:00", 600, "actionable")
    _alert(db, i1, "fall.long_lie", "2026-11-03T02:05", 900, "actionable")
    # A false fall: ack 300 s, resolved in 1200 s.
    i2 = _incident(db, r2, "2026-11-12T10:00", 300)
    _alert(db, i2, "fall.motion", "2026-11-12T10:00", 1200, "false_alarm")
    # SOS: ack 60 s, resolved 1800 s; escalated once, step 1 found nobody on duty (its
    # re-page is the same step, not counted again).
    i3 = _incident(db, r3, "2026-11-05T08:00", 60)
    _alert(db, i3, "sos", "2026-11-05T08:00", 1800, "actionable")
    _event(db, i3, "NotifiedEvent", "2026-11-05T08:00", step=0, recipients=["n1"], renotify=False)
    _event(db, i3, "EscalatedEvent", "2026-11-05T08:05", step=1)
    _event(db, i3, "NotifiedEvent", "2026-11-05T08:05", step=1, recipients=[], renotify=False)
    _event(db, i3, "NotifiedEvent", "2026-11-05T08:15", step=1, recipients=[], renotify=True)
    # Never acknowledged nor resolved; escalated to steps 1 and 2.
    i4 = _incident(db, r1, "2026-11-20T00:00", None)
    _alert(db, i4, "vital.hr.high", "2026-11-20T00:00", None, None)
    _event(db, i4, "EscalatedEvent", "2026-11-20T00:05", step=1)
    _event(db, i4, "EscalatedEvent", "2026-11-20T00:10", step=2)
    # A device alert that cleared itself in 3600 s.
    i6 = _incident(db, r2, "2026-11-14T00:00", None)
    _alert(db, i6, "wear_off", "2026-11-14T00:00", 3600, "self_cleared")
    # A real fall at 01:00 on 1 Dec local: November in UTC, not in the site's month.
    i5 = _incident(db, r1, "2026-11-30T17:00", 10)
    _alert(db, i5, "fall.motion", "2026-11-30T17:00", 20, "actionable")


def _seed_second_site_fall(db: Conn, resident: int) -> None:
    i7 = next(_ids)
    at = utc("2026-11-10T00:00")
    db.execute(
        "INSERT INTO incidents (incident_id, subject, site_id, unit_id, resident_id, state,"
        " severity, title, opened_at, acknowledged_at, updated_at)"
        " VALUES (%s, 's', %s, %s, %s, 'resolved', 'high', 'seed', %s, %s, %s)",
        [i7, SITE2, UNITS[0], resident, at, at + timedelta(seconds=30), at],
    )
    _alert(db, i7, "fall.motion", "2026-11-10T00:00", 100, "actionable")


EXPECTED: dict[str, Any] = {
    "site_id": SITE,
    "region_id": None,
    "lead_hospital": None,
    "sites": [SITE],
    "from": "2026-11-01",
    "to": "2026-11-30",
    "timezone": "Asia/Shanghai",
    "alerts": {
        "total": 6,
        "by_rule": {
            "fall.long_lie": {"total": 1, "actionable": 1, "already_attended": 0,
                              "false_alarm": 0, "self_cleared": 0, "unresolved": 0,
                              "precision": 1.0},
            "fall.motion": {"total": 2, "actionable": 1, "already_attended": 0,
                            "false_alarm": 1, "self_cleared": 0, "unresolved": 0,
                            "precision": 0.5},
            "sos": {"total": 1, "actionable": 1, "already_attended": 0, "false_alarm": 0,
                    "self_cleared": 0, "unresolved": 0, "precision": 1.0},
            "vital.hr.high": {"total": 1, "actionable": 0, "already_attended": 0,
                              "false_alarm": 0, "self_cleared": 0, "unresolved": 1,
                              "precision": None},
            "wear_off": {"total": 1, "actionable": 0, "already_attended": 0, "false_alarm": 0,
                         "self_cleared": 1, "unresolved": 0, "precision": None},
        },
        # 600, 900, 1200, 1800, 3600: the middle one; p90 is rank ceil(4.5) = 5.
        "time_to_resolve": {"count": 5, "median_s": 1200, "p90_s": 3600},
    },
    "incidents": {
        "total": 5,
        # 60, 120, 300: median 120; p90 rank ceil(2.7) = 3.
        "time_to_acknowledge": {"count": 3, "median_s": 120, "p90_s": 300},
        "escalated": 2,
        "escalation_steps": 3,
        "unstaffed_steps": 1,
    },
    "residents": {
        "resident_days": 60.0,
        "average_census": 2.0,
        "residents": 3,
        "falls": 1,
        "falls_per_1000_resident_days": pytest.approx(1000 / 60),
        "disabled": 2,
        "disabled_share": pytest.approx(2 / 3),
        "dementia": 1,
        "dementia_share": pytest.approx(1 / 3),
        "ability_not_assessed": 0,
    },
    "referrals": {
        "requested": 3,
        "answered": 2,
        "answered_within_15_min": 1,
        "answered_within_15_min_share": pytest.approx(1 / 3),
        "returned": 2,
    },
    "observations": {
        "done": 2,
        "rounds": {
            "due": 32, "on_time": 2, "late": 2, "missed": 27, "pending": 1,
            "done_share": pytest.approx(4 / 32),
            "by_kind": {
                "family_doctor_visit": {"due": 1, "on_time": 1, "late": 0, "missed": 0,
                                        "pending": 0, "done_share": 1.0},
                "nurse_visit": {"due": 1, "on_time": 0, "late": 0, "missed": 0, "pending": 1,
                                "done_share": 0.0},
                "vitals_round": {"due": 30, "on_time": 1, "late": 2, "missed": 27,
                                 "pending": 0, "done_share": pytest.approx(3 / 30)},
            },
        },
    },
    "outbreaks": {
        "opened": 3,
        "by_syndrome": {"fever": 1, "gastrointestinal": 1, "respiratory": 1},
        "open": 1,
        "reported": 1,
        "ruled_out": 1,
        "time_to_report": {"count": 1, "median_s": 10800, "p90_s": 10800},
    },
    "devices": {
        "device_hours": 960.0,
        "online_hours": pytest.approx(47 / 60),
        "online_share": pytest.approx(47 / 60 / 960),
        "wearable_hours": 720.0,
        "worn_hours": 480.0,
        "worn_share": pytest.approx(2 / 3),
    },
    "contracts": {
        "target": 0.8,
        "by_category": {
            "disabled": {"residents": 3, "contracted": 2, "rate": pytest.approx(2 / 3),
                         "meets_target": False},
            "aged_80_plus": {"residents": 2, "contracted": 1, "rate": 0.5,
                             "meets_target": False},
            "special_difficulty": {"residents": 1, "contracted": 1, "rate": 1.0,
                                   "meets_target": True},
        },
    },
}  # fmt: skip


def _walk(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out |= _walk(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_a_seeded_month_gives_the_figures_worked_out_by_hand(
    db: Conn, api: TestClient, month: None
) -> None:
    admin = login_as(api, "ind-admin", "admin")
    answer = api.get("/api/v1/indicators", params=MONTH, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json() == EXPECTED
    audited = count(
        db,
        "SELECT count(*) FROM audit_log WHERE actor = 'ind-admin' AND action = 'indicators.read'"
        " AND site_id = %s",
        SITE,
    )
    assert audited >= 1


def test_online_time_is_read_from_the_presence_spans(api: TestClient, month: None) -> None:
    # October 2026 local (2026-09-30T16:00Z to 2026-10-31T16:00Z): ind-w1's wear events of
    # 10 and 20 Oct, 5 min each, and its reading 2 min before the end; ind-w2's span, 60 min;
    # its reading from before the upgrade, nothing. 72 min.
    admin = login_as(api, "ind-admin", "admin")
    october = {"site": SITE, "from": "2026-10-01", "to": "2026-10-31"}
    answer = api.get("/api/v1/indicators", params=october, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["devices"]["online_hours"] == pytest.approx(72 / 60)


def test_the_csv_and_the_workbook_carry_the_json_figures(api: TestClient, month: None) -> None:
    nurse = login_as(api, "ind-nurse", "nurse", site=SITE)
    figures = api.get("/api/v1/indicators", params=MONTH, headers=nurse).json()
    for key in ("site_id", "region_id", "lead_hospital", "sites", "from", "to", "timezone"):
        del figures[key]
    flat = _walk(figures)

    book = api.get("/api/v1/indicators", params=MONTH | {"format": "xlsx"}, headers=nurse)
    assert book.status_code == 200, book.text
    assert book.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(book.content), read_only=True).active
    assert sheet is not None
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header == ("indicator", "label", "value")
    cells = {r[0]: r[2] for r in rows}
    assert set(cells) == set(flat)
    for name, value in flat.items():
        assert cells[name] == (pytest.approx(value) if value is not None else None), name
    labels = {r[0]: r[1] for r in rows}
    assert labels["residents.falls_per_1000_resident_days"] == "每千住养人日跌倒次数"
    assert labels["alerts.by_rule.fall.motion.precision"] == "准确率（属实/已判定） · " + (
        text("zh-CN", "rule.fall.motion")
    )

    sent = api.get(
        "/api/v1/indicators", params=MONTH | {"format": "csv", "lang": "en"}, headers=nurse
    )
    assert sent.status_code == 200, sent.text
    assert sent.text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(sent.text.removeprefix("\ufeff"))))
    by_name = {r["indicator"]: r for r in table}
    assert set(by_name) == set(flat)
    assert by_name["residents.resident_days"]["value"] == "60.0"
    assert by_name["alerts.by_rule.vital.hr.high.precision"]["value"] == ""
    assert by_name["residents.falls_per_1000_resident_days"]["label"] == (
        "Falls per 1,000 resident-days"
    )
    assert by_name["devices.worn_share"]["label"] == "Share of wearable-hours worn"
    coverage = by_name["contracts.by_category.special_difficulty.meets_target"]
    assert (coverage["label"], coverage["value"]) == (
        "Meets the 80 % target · Special hardship",
        "True",
    )
    assert by_name["observations.rounds.by_kind.vitals_round.missed"]["label"] == (
        "Missed · Vital-signs rounds"
    )
    assert labels["devices.online_share"] == "设备在线率"


def test_only_readers_of_the_whole_site_get_its_figures(api: TestClient, month: None) -> None:
    whole = login_as(api, "ind-phys", "physician", site=SITE)
    unit_only = login_as(api, "ind-nurse-u", "nurse", site=SITE, units=(UNITS[0],))
    other_site = login_as(api, "ind-nurse-t1", "nurse", site="t1")
    carer = login_as(api, "ind-carer", "caregiver", site=SITE)
    assert api.get("/api/v1/indicators", params=MONTH, headers=whole).status_code == 200
    for headers in (unit_only, other_site, carer):
        refused = api.get("/api/v1/indicators", params=MONTH, headers=headers)
        assert refused.status_code == 403, refused.text
    admin = login_as(api, "ind-admin", "admin")
    unknown = api.get("/api/v1/indicators", params=MONTH | {"site": "no-such"}, headers=admin)
    assert unknown.status_code == 404, unknown.text
    backwards = api.get("/api/v1/indicators", params=MONTH | {"from": "2026-12-01"}, headers=admin)
    assert backwards.status_code == 422, backwards.text
    too_long = api.get("/api/v1/indicators", params=MONTH | {"from": "2025-01-01"}, headers=admin)
    assert too_long.status_code == 422, too_long.text
    for edge in ("0001-01-01", "9999-12-31"):  # one day each: no datetime after the last
        far = api.get(
            "/api/v1/indicators", params=MONTH | {"from": edge, "to": edge}, headers=admin
        )
        assert far.status_code == 422, far.text


def test_a_regulator_reads_the_figures_of_its_regions_sites_and_nothing_else(
    db: Conn, api: TestClient, month: None
) -> None:
    regulator = login_as(api, "ind-regulator", "regulator", region=REGION)
    other = login_as(api, "ind-regulator-w", "regulator", region="ind-west")
    answer = api.get("/api/v1/indicators", params=MONTH, headers=regulator)
    assert answer.status_code == 200, answer.text
    assert answer.json() == EXPECTED
    refused = api.get("/api/v1/indicators", params=MONTH, headers=other)
    assert refused.status_code == 403, refused.text
    # t1 is in no region; a regulator sees no resident, alert or referral anywhere.
    elsewhere = api.get("/api/v1/indicators", params=MONTH | {"site": "t1"}, headers=regulator)
    assert elsewhere.status_code == 403, elsewhere.text
    for path in ("/api/v1/residents", "/api/v1/alerts", "/api/v1/referrals", "/api/v1/outbreaks"):
        assert api.get(path, headers=regulator).status_code == 403, path
    me = api.get("/api/v1/auth/me", headers=regulator).json()
    assert (me["role"], me["region_id"], me["site_id"]) == ("regulator", REGION, None)


def test_a_regulator_is_bound_to_a_region_and_only_they_are(api: TestClient, month: None) -> None:
    base = {"password": "a long enough password", "role": "regulator"}
    for name, extra in [
        ("ind-reg-none", {}),
        ("ind-reg-site", {"region_id": REGION, "site_id": SITE}),
        ("ind-reg-nowhere", {"region_id": "no-such-region"}),
    ]:
        made = api.post("/api/v1/users", json=base | {"username": name} | extra)
        assert made.status_code == 422, made.text
    nurse = api.post(
        "/api/v1/users",
        json=base
        | {"username": "ind-nurse-r", "role": "nurse", "site_id": SITE, "region_id": REGION},
    )
    assert nurse.status_code == 422, nurse.text


def test_a_regions_figures_are_its_sites_together(api: TestClient, month: None) -> None:
    regulator = login_as(api, "ind-regulator", "regulator", region=REGION)
    admin = login_as(api, "ind-admin", "admin")
    region = {"region": REGION, "from": MONTH["from"], "to": MONTH["to"]}
    answer = api.get("/api/v1/indicators", params=region, headers=regulator)
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert api.get("/api/v1/indicators", params=region, headers=admin).json() == got
    assert (got["site_id"], got["region_id"], got["sites"]) == (None, REGION, [SITE, SITE2])
    # ind1's month (above) and ind2's: 30 more resident-days, one more resident (not assessed),
    # one more real fall, resolved in 100 s and acknowledged in 30 s.
    assert got["residents"] == {
        "resident_days": 90.0,
        "average_census": 3.0,
        "residents": 4,
        "falls": 2,
        "falls_per_1000_resident_days": pytest.approx(2000 / 90),
        "disabled": 2,
        "disabled_share": 0.5,
        "dementia": 1,
        "dementia_share": 0.25,
        "ability_not_assessed": 1,
    }
    motion = got["alerts"]["by_rule"]["fall.motion"]
    assert (motion["total"], motion["actionable"], motion["false_alarm"]) == (3, 2, 1)
    assert motion["precision"] == pytest.approx(2 / 3)
    # 100, 600, 900, 1200, 1800, 3600: median (900 + 1200) / 2, p90 rank ceil(5.4) = 6.
    assert got["alerts"]["time_to_resolve"] == {"count": 6, "median_s": 1050, "p90_s": 3600}
    # 30, 60, 120, 300: median 90, p90 rank 4.
    assert got["incidents"]["time_to_acknowledge"] == {"count": 4, "median_s": 90, "p90_s": 300}
    assert got["referrals"] == EXPECTED["referrals"]
    assert got["outbreaks"] == EXPECTED["outbreaks"]

    west = login_as(api, "ind-regulator-w", "regulator", region="ind-west")
    nurse = login_as(api, "ind-phys", "physician", site=SITE)
    for headers in (west, nurse):
        assert api.get("/api/v1/indicators", params=region, headers=headers).status_code == 403
    unknown = api.get("/api/v1/indicators", params=region | {"region": "no-such"}, headers=admin)
    assert unknown.status_code == 404, unknown.text
    for both_or_none in (region | {"site": SITE}, {"from": MONTH["from"], "to": MONTH["to"]}):
        wrong = api.get("/api/v1/indicators", params=both_or_none, headers=admin)
        assert wrong.status_code == 422, wrong.text


def test_a_regulator_sees_its_regions_outbreak_files_without_names(
    api: TestClient, month: None
) -> None:
    regulator = login_as(api, "ind-regulator", "regulator", region=REGION)
    region = {"region": REGION, "from": MONTH["from"], "to": MONTH["to"]}
    answer = api.get("/api/v1/indicators/outbreaks", params=region, headers=regulator)
    assert answer.status_code == 200, answer.text
    assert "Indicator resident" not in answer.text and "Indicator staff" not in answer.text
    got = [
        (f["site_id"], f["syndrome"], f["status"], f["drill"], f["residents"], f["staff"])
        for f in answer.json()["items"]
    ]
    assert got == [
        (SITE, "gastrointestinal", "reported", False, 1, 1),
        (SITE, "gastrointestinal", "reported", True, 0, 0),
        (SITE, "respiratory", "ruled_out", False, 0, 0),
        (SITE, "fever", "open", False, 0, 0),
    ]
    assert answer.json()["items"][0]["reported_to"] == "CDC"
    assert "note" not in answer.json()["items"][0]
    west = login_as(api, "ind-regulator-w", "regulator", region="ind-west")
    refused = api.get("/api/v1/indicators/outbreaks", params=region, headers=west)
    assert refused.status_code == 403, refused.text
