"""Reminders to check in (issue 18), through the real alert service and outbox: at a site that
asks for them, each member of staff with a shift today who has not checked in is reminded once,
with a link to the check-in page; one who has checked in is not; a site that does not ask
reminds nobody."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from services.settings import Settings
from tests.e2e.alerting import Running, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, count, login_as, wait_for

TITLE = "Health check-in: before your 00:00 shift"


def reminders(db: Conn) -> int:
    return count(db, "SELECT count(*) FROM notifications WHERE title = %s", TITLE)


def steps_more(running: Running, n: int) -> None:
    """Until the service has taken `n` more decision steps (each runs the reminders, at
    `visit_reminders_every_s` = 0.1 s, less than a step's second)."""
    name = "carewatch_alert_step_seconds_count"
    target = running.metric(name) + n
    wait_for(lambda: running.metric(name), until=lambda v: v >= target, what="decision steps")


def test_staff_not_checked_in_are_reminded_once_with_the_page_link(
    api: TestClient,
    db: Conn,
    settings: Settings,
    run_service: type[Running],
    http: HttpReceiver,
    smtp: SmtpReceiver,
) -> None:
    # The caregiver cg1 has checked in today; the others of the ward's team have not (nor
    # been reminded: another test's check-ins at the ward are not theirs to count).
    others = ["dr1", "ic1", "cn1", "cdc1"]
    db.execute(
        "DELETE FROM staff_checkins c USING staff_people p WHERE c.person_id = p.person_id"
        " AND p.staff_id = ANY(%s) AND c.site_id = %s",
        [others, SITE],
    )
    db.execute("DELETE FROM staff_checkin_reminders WHERE site_id = %s", [SITE])
    db.commit()
    caregiver = login_as(api, "chk-cg1", "caregiver", site=SITE, units=(UNIT,), staff="cg1")
    done = api.post("/api/v1/staff-checkins", json={"temperature": 36.6}, headers=caregiver)
    assert done.status_code == 201, done.text
    document: dict[str, Any] = team(http, smtp)
    store(db, document)  # the site does not ask for reminders
    quiet = run_service(settings, visit_reminders_every_s=0.1)
    steps_more(quiet, 2)
    quiet.stop()
    assert reminders(db) == 0

    store(db, {**document, "sites": {SITE: {"checkin_reminder_min": 30}}})
    try:
        running = run_service(settings, visit_reminders_every_s=0.1)
        got = http.wait_until(
            lambda items: {r.path for r in items if r.title == TITLE} >= {"/dr1", "/ic1"},
            timeout=20,
            what="the check-in reminders",
        )
        reminded = [r for r in got if r.title == TITLE]
        assert "/cg1" not in {r.path for r in reminded}
        assert f"{settings.base_url}/checkin" in reminded[0].body
        steps_more(running, 2)  # more rounds of reminders: nobody is reminded twice
        running.stop()
        assert not running.errors
        # dr1 and ic1 by webhook, cn1 and cdc1 by e-mail: one each.
        assert reminders(db) == 4
    finally:
        store(db, document)
