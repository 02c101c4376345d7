"""Home visits and rounds (issue 17), through the API on the real database: schedules per
resident, the overdue list of the caller's scope (a family doctor: their caseload), a visit's
observations charted through the manual-observation path; and the overdue reminder paged by
the real alert service through the outbox to the caregiver on duty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from services.settings import Settings
from tests.e2e.alerting import Running, resident, store, team
from tests.e2e.test_family_care import admit, contract, place
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, count, login_as

RESIDENTS = "/api/v1/residents"
OVERDUE = "/api/v1/visits/overdue"


def schedule(
    api: TestClient, rid: int, label: str, hours: int, start: datetime, headers: dict[str, str]
) -> dict[str, object]:
    made = api.post(
        f"{RESIDENTS}/{rid}/visit-schedules",
        json={
            "kind": "vitals_round",
            "label": label,
            "interval_hours": hours,
            "starts_at": start.isoformat(),
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_overdue_rounds_are_listed_and_a_visit_with_observations_clears_them(
    api: TestClient, db: Conn, ward: str
) -> None:
    place(db, "vis-a")
    place(db, "vis-b")
    here = admit(db, "Han Mei", "vis-a", "h1")
    there = admit(db, "Tang Yi", "vis-b", "h1")
    nurse = login_as(api, "vis-nurse-a", "nurse", site="vis-a")
    now = datetime.now(UTC)
    bp = schedule(api, here, "血压测量（每日两次）", 12, now - timedelta(hours=13), nurse)
    later = schedule(api, here, "家庭医生月访", 720, now + timedelta(days=3), nurse)
    assert bp["overdue"] is True and later["overdue"] is False
    assert (
        api.post(
            f"{RESIDENTS}/{there}/visit-schedules",
            json={"kind": "vitals_round", "label": "x", "interval_hours": 12},
            headers=nurse,
        ).status_code
        == 403
    )
    admin_made = api.post(
        f"{RESIDENTS}/{there}/visit-schedules",
        json={
            "kind": "nurse_visit",
            "label": "探访",
            "interval_hours": 24,
            "starts_at": (now - timedelta(hours=1)).isoformat(),
        },
    )
    assert admin_made.status_code == 201

    listed = api.get(OVERDUE, headers=nurse).json()["items"]
    assert [s["schedule_id"] for s in listed] == [bp["schedule_id"]]  # not vis-b's
    assert listed[0]["late_minutes"] >= 60

    # The family doctor's overdue list is their caseload's, across sites.
    login_as(api, "vis-fd", "family_doctor")
    doctor = login_as(api, "vis-fd", "family_doctor")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    contract(api, there, "vis-fd", start=today, end=today + timedelta(days=30))
    theirs = api.get(OVERDUE, headers=doctor).json()["items"]
    assert [s["resident_id"] for s in theirs] == [there]

    done = api.post(
        f"{RESIDENTS}/{here}/visit-schedules/{bp['schedule_id']}/visits",
        json={"note": "左臂坐位", "observations": {"sbp": 162, "hr": 88}},
        headers=nurse,
    )
    assert done.status_code == 201, done.text
    assert done.json()["overdue"] is False and done.json()["last_done_at"] is not None
    assert api.get(OVERDUE, headers=nurse).json()["items"] == []
    # Charted as a round's observations: in the readings NEWS2 reads, and the chart.
    assert (
        count(
            db,
            "SELECT count(*) FROM readings WHERE resident_id = %s AND source = 'manual'"
            " AND metric IN ('sbp', 'hr')",
            here,
        )
        == 2
    )
    assert count(db, "SELECT count(*) FROM manual_observations WHERE resident_id = %s", here) == 2
    latest = api.get(f"{RESIDENTS}/{here}/latest", headers=nurse).json()
    assert latest["sbp"]["value"] == 162 and latest["sbp"]["source"] == "manual"
    # A schedule of another resident is not this one's.
    wrong = api.post(f"{RESIDENTS}/{there}/visit-schedules/{bp['schedule_id']}/visits", json={})
    assert wrong.status_code == 404
    # Stopped, it is never overdue.
    stop = api.put(
        f"{RESIDENTS}/{there}/visit-schedules/{admin_made.json()['schedule_id']}/active",
        json={"active": False},
    )
    assert stop.status_code == 200 and stop.json()["overdue"] is False
    assert api.get(OVERDUE, headers=doctor).json()["items"] == []


def test_an_overdue_round_pages_a_reminder_to_the_caregiver_on_duty_once(
    api: TestClient,
    db: Conn,
    settings: Settings,
    run_service: type[Running],
    http: HttpReceiver,
    smtp: SmtpReceiver,
) -> None:
    rid = resident(db, "Lu Xiu")
    store(db, team(http, smtp))
    label = "Blood pressure round (twice a day)"
    made = schedule(
        api,
        rid,
        label,
        12,
        datetime.now(UTC) - timedelta(hours=14),
        login_as(api, "vis-nurse-t1", "nurse", site=SITE, units=(UNIT,)),
    )
    try:
        running = run_service(settings, visit_reminders_every_s=0.2)
        got = http.wait_until(
            lambda items: any(label in r.title for r in items), timeout=20, what="the reminder"
        )
        (reminder,) = [r for r in got if label in r.title]
        assert reminder.path == "/cg1"
        assert reminder.title == f"Overdue: {label} — Lu Xiu"
        assert "has not been recorded yet" in reminder.body
        # Once per lateness: a later check sends nothing more for the same overdue round.
        first = db.execute(
            "SELECT reminded_at FROM visit_schedules WHERE schedule_id = %s",
            [made["schedule_id"]],
        ).fetchone()
        assert first is not None and first[0] is not None
        sent = count(
            db,
            "SELECT count(*) FROM notifications WHERE kind = 'reminder' AND title LIKE %s",
            f"%{label}%",
        )
        assert sent == 1
        running.stop()
        assert not running.errors
    finally:
        # Never overdue for a later test's alert service.
        db.execute(
            "UPDATE visit_schedules SET active = false WHERE schedule_id = %s",
            [made["schedule_id"]],
        )
