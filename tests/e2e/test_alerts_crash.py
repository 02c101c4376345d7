"""The alert service killed mid-escalation (SIGKILL, as a crash) and started again: the
escalation continues on its original clock, and what was delivered is not sent again."""

from __future__ import annotations

import time

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import Conn, count, wait_for

STEP_S = 6.0


class AlertsProcess(ServiceProcess):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, "alerts", metrics_port=settings.alerts_metrics_port)

    def subscribed(self) -> bool:  # ready: book restored, loops running
        return "carewatch_alerts_ready 1.0" in self.metrics()


def test_killed_mid_escalation_it_resumes_where_it_was_and_sends_nothing_twice(
    db: Conn,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],  # for the clean tables
) -> None:
    store(db, team(http, smtp, step_s=STEP_S))
    rid = resident(db, "Guo Qiang")
    process = AlertsProcess(settings)
    process.start()
    try:
        candidate(db, f"resident:{rid}")
        first = http.wait(1, timeout=15, what="step 1")[0]
        wait_for(
            lambda: count(db, "SELECT count(*) FROM notifications WHERE status = 'delivered'"),
            until=lambda n: n == 1,
            what="step 1 recorded as delivered",
        )
        process.kill()
        print(f"killed the alert service {time.time() - first.at:.1f} s after step 1")
        # Down past step 2's due time: on restart it is owed at once, not STEP_S later.
        wait_for(time.time, until=lambda now: now > first.at + STEP_S + 0.5, timeout=STEP_S + 5)
        restarted = time.time()
        process.start()
        mail = smtp.wait(1, timeout=15, what="step 2 after the restart")[0]
        received = time.time()
        print(f"step 2 arrived {received - restarted:.1f} s after the restart")
        assert received - restarted < STEP_S - 1, "the escalation clock started over"
        assert mail.recipients == ("cn1@example.org",)
        assert len(http.for_path("cg1")) == 1, "step 1 was paged again"
        wait_for(
            lambda: count(db, "SELECT count(*) FROM notifications WHERE status = 'delivered'"),
            until=lambda n: n == 2,
            what="step 2 recorded as delivered",
        )
        pages = db.execute(
            "SELECT recipient, status FROM notifications WHERE kind = 'page'"
            " ORDER BY notification_id"
        ).fetchall()
        assert pages == [("cg1", "delivered"), ("cn1", "delivered")]
    finally:
        process.stop()
