"""Two alert services against one database: one takes work, the other stands by and takes
over when the first is gone, and no page is sent twice (a second instance deciding from a
book it loaded once would overwrite the first one's decisions)."""

from __future__ import annotations

from services.settings import Settings
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import Conn, wait_for


def test_a_second_service_stands_by_and_takes_over_when_the_first_stops(
    db: Conn,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))
    first_resident = resident(db, "Zhou Min")
    second_resident = resident(db, "Sun Li")
    active = run_service(settings, standby_poll_s=0.1)
    wait_for(lambda: active.metric("carewatch_alerts_ready"), until=bool, what="first active")
    standby = run_service(settings, standby_poll_s=0.1)

    candidate(db, f"resident:{first_resident}")
    page = http.wait(1, timeout=10, what="the first fall's page")[0]
    assert "Zhou Min" in page.title
    assert standby.metric("carewatch_alerts_ready") == 0.0  # still standing by

    active.stop()
    wait_for(lambda: standby.metric("carewatch_alerts_ready"), until=bool, what="take-over")
    candidate(db, f"resident:{second_resident}")
    pages = http.wait(2, timeout=10, what="the second fall's page")
    assert "Sun Li" in pages[1].title
    # The taken-over book knows the first alert was delivered: nothing about it again.
    assert [p.title for p in http.items if "Zhou Min" in p.title] == [page.title]
