"""The alert service against the real database and real receivers: an HTTP endpoint taking
apprise json:// posts and an SMTP server taking mailto:// mail."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from fastapi.testclient import TestClient

from services.operations.local.system import free_port
from services.settings import Settings
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import Conn, count, wait_for

LINK = re.compile(r"Acknowledge: (\S+)")


def alert_of(api: TestClient, resident_id: int) -> dict[str, object]:
    page = api.get("/api/v1/alerts", params={"resident": resident_id}).json()
    assert len(page["items"]) == 1, page
    item: dict[str, object] = page["items"][0]
    return item


def test_a_fall_pages_the_caregiver_on_shift_with_who_where_what_and_a_link(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))
    rid = resident(db, "Zhang Wei", room="203", bed="2")
    run_service(settings)
    candidate(db, f"resident:{rid}", values={"impact_g": 3.1})
    page = http.wait(1, timeout=10, what="the caregiver's page")[0]
    assert page.path == "/cg1"
    assert "Fall reported by device" in page.title and "Zhang Wei" in page.title
    assert "[HIGH]" in page.title
    for part in ("Who: Zhang Wei", "Test site", "unit Test unit", "room 203", "bed 2"):
        assert part in page.body, page.body
    assert "impact 3.1 g" in page.body
    link = LINK.search(page.body)
    assert link is not None and link.group(1).startswith(f"{settings.base_url}/a/")
    alert = wait_for(
        lambda: alert_of(api, rid), until=lambda a: a["status"] == "notified", what="notified"
    )
    assert alert["delivered_at"] is not None
    assert not smtp.items  # the charge nurse is step 2, a minute away


def test_unanswered_pages_escalate_by_e_mail_and_an_ack_stops_them(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp, step_s=1.5))
    rid = resident(db, "Liu Yang")
    service = run_service(settings)
    began = time.time()
    candidate(db, f"resident:{rid}")
    http.wait(1, timeout=10, what="step 1")
    mail = smtp.wait(1, timeout=10, what="step 2 by e-mail")[0]
    assert mail.recipients == ("cn1@example.org",)
    assert "Liu Yang" in mail.subject and "Escalation step 2" in mail.text
    assert mail.sender == "carewatch@example.org"
    assert time.time() - began >= 1.5  # not before the step's timeout
    alert = alert_of(api, rid)
    assert alert["status"] == "escalated" and alert["escalation_step"] == 2

    acked = api.post(f"/api/v1/alerts/{alert['alert_id']}/ack")
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    # Both people paged hear that someone is on it; the physician (step 3) is never paged.
    http.wait(2, timeout=10, what="acknowledged message to the caregiver")
    smtp.wait(2, timeout=10, what="acknowledged message to the charge nurse")
    assert http.items[1].title.startswith("Acknowledged")
    step3_due = began + 3.0
    steps = service.metric("carewatch_alert_step_seconds_count")
    wait_for(
        lambda: (time.time(), service.metric("carewatch_alert_step_seconds_count")),
        until=lambda s: s[0] > step3_due + 1 and s[1] >= steps + 2,
        what="escalation steps past step 3's due time",
    )
    assert not http.for_path("dr1")
    assert api.post(f"/api/v1/alerts/{alert['alert_id']}/ack").status_code == 409


def test_the_one_time_link_acknowledges_once_and_only_by_post(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))
    rid = resident(db, "Sun Li")
    run_service(settings)
    candidate(db, f"resident:{rid}")
    link = LINK.search(http.wait(1, timeout=10)[0].body)
    assert link is not None
    path = urlsplit(link.group(1)).path
    wait_for(lambda: alert_of(api, rid)["status"], until=lambda s: s == "notified")

    preview = api.get(path, headers={"Authorization": ""})
    assert preview.status_code == 200 and "Sun Li" in preview.text and "<form" in preview.text
    assert alert_of(api, rid)["status"] == "notified"  # looking is not acknowledging

    done = api.post(path, headers={"Authorization": ""})
    assert done.status_code == 200 and "Acknowledged" in done.text
    alert = alert_of(api, rid)
    assert (alert["status"], alert["acknowledged_by"], alert["acknowledged_via"]) == (
        "acknowledged",
        "cg1",
        "link",
    )
    assert api.post(path, headers={"Authorization": ""}).status_code == 410  # single use
    forged = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    assert api.post(forged, headers={"Authorization": ""}).status_code == 410
    assert api.get("/a/not-a-token", headers={"Authorization": ""}).status_code == 410


def test_repeats_update_and_simultaneous_conditions_page_once(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))
    rid = resident(db, "Zhou Min")
    service = run_service(settings)
    subject = f"resident:{rid}"
    candidate(db, subject)
    candidate(db, subject, rule_id="vital.hr.high", severity="medium", title="Heart rate high")
    candidate(db, subject, rule_id="bed.exit_night", severity="medium", title="Out of bed")
    wait_for(
        lambda: service.metric("carewatch_alert_candidates_total"),
        until=lambda n: n >= 3,
        what="three candidates taken",
    )
    candidate(db, subject, action="update", values={"still_s": 60})
    wait_for(
        lambda: count(
            db, "SELECT coalesce(max(count), 0) FROM alerts WHERE rule_id = 'fall.device'"
        ),
        until=lambda n: n == 2,
        what="the repeat folded into the open fall alert",
    )
    page = http.wait(1, timeout=10)[0]
    assert count(db, "SELECT count(DISTINCT incident_id) FROM alerts") == 1
    assert count(db, "SELECT count(*) FROM alerts") == 3
    assert count(db, "SELECT count(*) FROM notifications WHERE kind = 'page'") == 1
    assert len(http.items) == 1
    assert "Fall reported by device" in page.title


def test_resolving_needs_an_outcome_and_tells_those_who_were_paged(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))
    rid = resident(db, "Wu Hao")
    run_service(settings)
    candidate(db, f"resident:{rid}")
    http.wait(1, timeout=10)
    alert_id = alert_of(api, rid)["alert_id"]

    missing = api.post(f"/api/v1/alerts/{alert_id}/resolve", json={"note": "fine"})
    assert missing.status_code == 422 and "outcome" in missing.text
    wrong = api.post(f"/api/v1/alerts/{alert_id}/resolve", json={"outcome": "maybe"})
    assert wrong.status_code == 422
    done = api.post(
        f"/api/v1/alerts/{alert_id}/resolve",
        json={"outcome": "false_alarm", "note": "  dropped the watch  "},
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["outcome"], body["note"]) == (
        "resolved",
        "false_alarm",
        "dropped the watch",
    )
    resolved = http.wait(2, timeout=10, what="the resolved message")[1]
    assert resolved.title.startswith("Resolved") and "false alarm" in resolved.body
    assert api.post(f"/api/v1/alerts/{alert_id}/ack").status_code == 409
    assert api.post("/api/v1/alerts/999999/ack").status_code == 404
    precision = api.get("/api/v1/alerts/precision").json()
    assert precision == [
        {
            "rule_id": "fall.device",
            "resolved": 1,
            "actionable": 0,
            "already_attended": 0,
            "false_alarm": 1,
            "precision": 0.0,
        }
    ]
    detail = api.get(f"/api/v1/alerts/{alert_id}").json()
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[0] == "CreatedEvent" and "ResolvedEvent" in kinds and "ClosedEvent" in kinds


def test_a_down_primary_is_retried_then_the_fallback_delivers(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    dead = f"json://127.0.0.1:{free_port()}/cg1"  # nothing listens there
    store(db, team(http, smtp, caregiver=[dead, http.url("cg1-fallback")]))
    rid = resident(db, "He Ping")
    run_service(settings)
    candidate(db, f"resident:{rid}")
    page = http.wait(1, timeout=15, what="the page through the fallback")[0]
    assert page.path == "/cg1-fallback"
    wait_for(
        lambda: count(db, "SELECT count(*) FROM delivery_attempts WHERE ok"),
        until=lambda n: n == 1,
        what="the delivery recorded",
    )
    attempts = db.execute(
        "SELECT channel_index, scheme, ok, error FROM delivery_attempts ORDER BY attempt_id"
    ).fetchall()
    assert [(a[0], a[2]) for a in attempts] == [(0, False), (0, False), (1, True)]
    assert all(a[1] == "json" for a in attempts)
    assert "Connection" in str(attempts[0][3])  # the reason, with no URL in it
    assert alert_of(api, rid)["status"] == "notified"


def test_with_every_channel_down_the_alert_stays_unnotified_until_one_comes_back(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))
    rid = resident(db, "Ma Lin")
    http.down()
    service = run_service(settings)
    candidate(db, f"resident:{rid}")
    wait_for(
        lambda: count(db, "SELECT count(*) FROM delivery_attempts WHERE NOT ok"),
        until=lambda n: n >= 3,
        what="several failed attempts",
    )
    alert = alert_of(api, rid)
    assert alert["status"] == "open" and alert["delivered_at"] is None
    wait_for(
        lambda: service.metric("carewatch_alert_incidents_undelivered"),
        until=lambda v: v == 1,
        what="the undelivered gauge",
    )
    http.up()
    page = http.wait(1, timeout=15, what="delivery once the receiver is back")[0]
    assert page.path == "/cg1"
    wait_for(lambda: alert_of(api, rid)["status"], until=lambda s: s == "notified")
    wait_for(
        lambda: service.metric("carewatch_alert_incidents_undelivered"),
        until=lambda v: v == 0,
        what="the undelivered gauge back to 0",
    )
    assert len(http.for_path("cg1")) == 1


def test_an_outbreak_cluster_names_residents_to_infection_control_and_counts_to_disease_control(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, team(http, smtp))
    names = ["Fever One", "Fever Two", "Fever Three"]
    ids = [resident(db, n) for n in names]
    for rid, temp in zip(ids, (38.4, 38.9, 38.1), strict=True):
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (now() - interval '1 hour', %s, %s, 'temp', %s, 'vitals',"
            " now())",
            [f"dev-fever-{rid}", rid, temp],
        )
    db.commit()
    run_service(settings)
    candidate(
        db,
        "unit:t1/u1",
        rule_id="outbreak.fever_cluster",
        severity="high",
        title="Fever cluster: 3 residents of unit u1 within 72 h",
        values={"count": 3, "residents": ",".join(map(str, ids)), "window_h": 72.0},
        audience="infection_control",
    )
    page = http.wait(1, timeout=10, what="infection control's page")[0]
    mail = smtp.wait(1, timeout=10, what="disease control's mail")[0]
    assert page.path == "/ic1" and mail.recipients == ("cdc@example.org",)
    for text in (page.body, mail.text):
        assert "Febrile residents (3)" in text
    for name, shown in zip(names, ("38.4", "38.9", "38.1"), strict=True):
        assert f"{name}: {shown} °C" in page.body, page.body
        # Outside the institution: counts and the link, never names (issue 18).
        assert name not in mail.text and name not in mail.subject, mail.text
    assert "/a/" in mail.text
    assert not http.for_path("cg1")  # an outbreak goes to its own audience


def test_the_care_team_is_validated_before_it_is_stored_and_read_back_redacted(
    api: TestClient, http: HttpReceiver, smtp: SmtpReceiver, run_service: type[Running]
) -> None:
    bad = team(http, smtp)
    bad["staff"][0]["channels"] = ["nonsense"]
    bad["shifts"].append({"staff": "nobody", "site": "t1", "start": "08:00", "end": "20:00"})
    refused = api.put("/api/v1/care-team", json=bad)
    assert refused.status_code == 422
    text = refused.text
    assert "channels" in text and "apprise" in text
    stored = api.put("/api/v1/care-team", json=team(http, smtp))
    assert stored.status_code == 200 and stored.json()["version"] >= 1
    read = api.get("/api/v1/care-team").json()
    assert read["document"]["staff"][0]["channels"] == ["json://…"]
    assert str(http.port) not in str(read)


def test_a_long_lie_suggests_a_referral_to_the_partner_hospital(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    document = team(http, smtp)
    document["hospitals"] = [
        {"id": "h1", "name": "County Hospital", "sites": ["t1"], "channels": [http.url("h1")]}
    ]
    document["staff"].append(
        {"id": "n1", "name": "Nurse Xu", "role": "nurse", "channels": [http.url("n1")]}
    )
    document["shifts"].append({"staff": "n1", "site": "t1", "start": "00:00", "end": "00:00"})
    store(db, document)
    rid = resident(db, "Tang Yu")
    run_service(settings)
    key = f"fall:resident:{rid}"  # the fall rules' one key per fall
    candidate(db, f"resident:{rid}", dedupe_key=key)
    http.wait(1, timeout=10, what="the fall page")
    # A fall alone suggests nothing (counted for this resident: other tests leave referrals).
    assert count(db, "SELECT count(*) FROM referrals WHERE resident_id = %s", rid) == 0
    candidate(
        db,
        f"resident:{rid}",
        rule_id="fall.long_lie",
        action="update",
        severity="critical",
        title="Still down 5 min after a fall",
        suggestion="referral",
        dedupe_key=key,
    )
    wait_for(
        lambda: db.execute(
            "SELECT state, alert_id IS NOT NULL FROM referrals WHERE resident_id = %s", [rid]
        ).fetchall(),
        until=lambda rows: rows == [("suggested", True)],
        what="a referral suggestion",
    )
    assert count(db, "SELECT count(*) FROM alerts") == 1  # the fall alert, escalated
    assert count(db, "SELECT count FROM alerts") == 2
