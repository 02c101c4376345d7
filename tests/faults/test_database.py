"""PostgreSQL stopped while the devices stream and residents fall: for the 30 s the issue asks
for, and for 60 s, past the 45 s after which the broker drops an ingest worker that has sent
nothing (keepalive 30 s x 1.5).

The ingest worker holds what its inbox takes (CAREWATCH_INGEST_QUEUE_MAX, 200 here: full
within seconds), then paho's thread blocks in the callback, so the worker stops reading and
the broker keeps the rest in the worker's persistent session. Nothing is acknowledged before
its commit, so whatever the broker delivers again (also everything in flight when it dropped
the blocked worker) is stored exactly once. The detector and the alert service wait the outage
out in-process too (issue 13, item 11: exiting and coming back on the supervisor's backoff
paged a fall 52 s late): none of the four exits, a fall during the outage is paged within
PAGED_AFTER_RETURN_S of the database's return, and all four must be healthy afterwards (what
is counted: accounting.py)."""

from __future__ import annotations

import time

import pytest

from services.api.database import WAIT_S
from services.settings import admin_token
from tests.faults.accounting import CAREGIVER
from tests.faults.supervised import scrape
from tests.faults.ward import INBOX_MAX, Ward, ingest_ready
from tests.sse import Stream
from tests.support import wait_for

pytestmark = pytest.mark.faults

KEEPALIVE_DROP_S = 45.0  # ingest/consumer.py: keepalive=30; the broker waits 1.5 times that
PAGED_AFTER_RETURN_S = 5.0  # issue 13: a fall during the outage, paged this soon after it


@pytest.mark.parametrize("outage_s", [30.0, 60.0], ids=["30s", "60s-past-keepalive"])
def test_postgres_down(fault_ward: Ward, outage_s: float) -> None:
    ward = fault_ward
    assert ward.stack.postgres is not None
    # Nobody may exit (`settle` reports any exit as a problem): every service waits it out.
    window = ward.begin(f"PostgreSQL stopped for {outage_s:g} s")
    pids = {name: ward.services[name].child.pid for name in ("detect", "alerts")}
    # A board's live feed, open across the outage: the API's one listener reconnects and
    # takes up where it was, so the stream stays open and gets the fall.
    feed = Stream(
        f"http://127.0.0.1:{ward.settings.api_port}/api/v1/alerts/stream",
        {"Authorization": f"Bearer {admin_token(ward.settings)}"},
    )
    assert feed.connected.wait(20) and feed.status == 200, feed.status
    ingest = ward.ingest_marks()
    sent_before = ward.devices_stream.count()
    ward.stack.postgres.stop()
    stopped = time.monotonic()
    window.note("PostgreSQL stopped (fast shutdown: every connection closed)")
    during_outage = ward.fall(window)
    # The health signals must say so meanwhile, not only recover afterwards.
    try:
        wait_for(
            lambda: (scrape(ward.settings.ingest_metrics_port), ward.readyz()),
            until=lambda now: not ingest_ready(now[0]) and now[1][0] == 503,
            timeout=20,
            what="the ingest worker and /readyz to report the database away",
            every=0.5,
        )
        window.note("ingest worker: carewatch_ingest_database_up 0; API /readyz 503")
        unreported = ""
    except AssertionError as exc:
        window.note(f"PROBLEM: {exc}")
        unreported = str(exc)
    # A data request must say the database is away, within its bounded wait, not hang or 500.
    asked = time.monotonic()
    try:
        status, body = ward.api("GET", "/api/v1/alerts")
    except OSError as exc:
        status, body = 0, str(exc)
    took = time.monotonic() - asked
    window.note(f"API GET /api/v1/alerts meanwhile: {status} in {took:.1f} s: {body}")
    if status != 503 or took > WAIT_S + 3:
        unreported += f" GET /api/v1/alerts answered {status} after {took:.1f} s, not 503"
    ward.stream_for(outage_s - (time.monotonic() - stopped))
    during = ward.devices_stream.count() - sent_before
    ward.stack.postgres.start()
    back_at = time.time()
    window.note(
        f"PostgreSQL started again, {time.monotonic() - stopped:.1f} s after the stop; the "
        f"devices published {during} messages meanwhile (ingest inbox bound {INBOX_MAX})"
    )
    ward.fall(window)
    report = ward.settle(window)
    report.counted.append(ward.ingest_since(ingest))
    dropped = ward.ingest_marks()[2] - ingest[2]
    if outage_s > KEEPALIVE_DROP_S and not dropped:
        report.problems.append(
            "the broker never dropped the blocked ingest worker: redelivery after a keepalive "
            "drop was not exercised"
        )
    if unreported:
        report.problems.append(f"health signals during the outage: {unreported}")
    with ward.db() as conn:
        alert_ids = set(ward.fall_alerts(conn, during_outage))
    paged = [p.at for p in ward.pages() if p.alert_id in alert_ids and p.staff_id == CAREGIVER]
    late = min(paged) - back_at if paged else None
    report.counted.append(
        f"the fall during the outage: paged {late if late is None else round(late, 1)} s after"
        " the database was back"
    )
    if late is None or late > PAGED_AFTER_RETURN_S:
        report.problems.append(
            f"the fall during the outage was paged {late} s after the database's return, not"
            f" within {PAGED_AFTER_RETURN_S:g} s"
        )
    try:
        feed.wait(
            lambda evs: any(
                e["type"] == "alert" and e["data"]["alert"]["alert_id"] in alert_ids for e in evs
            ),
            timeout=10,
        )
        report.counted.append("live feed: open throughout, got the fall during the outage")
    except AssertionError:
        report.problems.append(
            f"the live feed opened before the outage did not get its fall: closed "
            f"{feed.closed.is_set()}, events {[e['type'] for e in feed.events]}"
        )
    finally:
        feed.close()
    now_pids = {name: ward.services[name].child.pid for name in pids}
    if now_pids != pids:
        report.problems.append(f"restarted during the outage: pids {pids} -> {now_pids}")
    print(report.text())
    assert not report.problems, report.text()
