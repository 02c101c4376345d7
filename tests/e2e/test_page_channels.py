"""Where a page may go and in which form, through the alert service with real receivers: a
site's allow-list of apprise schemes is enforced at care-team load and again at delivery (a
message queued under an older team still names a channel since refused), and the page itself
is the recipient's language, private unless the site allows details."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from psycopg import AsyncConnection

from services.careteam.team import load_care_team
from services.notifications.delivery import Delivery, Outcome
from services.notifications.outbox import enqueue
from services.settings import Settings
from tests.e2e.alerting import Running, candidate, resident, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, Conn, count, wait_for


def webhook_only(http: HttpReceiver, smtp: SmtpReceiver) -> dict[str, Any]:
    """Everyone by webhook, and the test site allowing webhooks only (no e-mail)."""
    document = team(http, smtp)
    for person in document["staff"]:
        person["channels"] = [http.url(person["id"])]
    document["site_defaults"] = {}  # the product defaults: zh-CN, private
    document["sites"] = {SITE: {"channels": ["json"]}}
    return document


def test_a_page_never_goes_to_a_channel_the_site_did_not_allow(
    db: Conn,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
) -> None:
    store(db, webhook_only(http, smtp))
    rid = resident(db, "Zhang Wei", room="203", bed="2")
    run_service(settings)
    candidate(db, f"resident:{rid}", values={"impact_g": 3.1})
    page = http.wait(1, timeout=20, what="the caregiver's page")[0]
    # The product default: Chinese, the bed and not the name or the values.
    assert page.title == "【高】设备报告跌倒 — 203 房 2 床", page.title
    assert "Zhang Wei" not in page.body and "3.1" not in page.body
    assert "确认接手：\n" in page.body
    row = db.execute("SELECT incident_id FROM incidents").fetchone()
    assert row is not None
    # Messages queued before the team was tightened: e-mail first, then a webhook; e-mail only.
    mixed = [smtp.url("cg1@example.org"), http.url("late")]
    for channels, title in ((mixed, "mixed"), ([smtp.url("cg1@example.org")], "mail-only")):
        db.execute(
            "INSERT INTO notifications (kind, incident_id, recipient, channels, title, body)"
            " VALUES ('update', %s, 'cg1', %s, %s, 'body')",
            [row[0], channels, title],
        )
    db.commit()
    db.execute("NOTIFY carewatch_outbox")
    db.commit()
    late = http.wait(2, timeout=20, what="the mixed message on its webhook")[1]
    assert (late.path, late.title) == ("/late", "mixed")
    wait_for(
        lambda: count(db, "SELECT count(*) FROM notifications WHERE status = 'cancelled'"),
        until=lambda n: n == 1,
        what="the e-mail-only message cancelled",
    )
    assert smtp.items == []  # nothing ever reached the refused channel type
    refused = db.execute(
        "SELECT n.title, d.scheme, d.error FROM delivery_attempts d JOIN notifications n"
        " USING (notification_id) WHERE NOT d.ok ORDER BY d.attempt_id"
    ).fetchall()
    assert [(t, s) for t, s, _ in refused] == [("mixed", "mailto"), ("mail-only", "mailto")]
    assert all(f"mailto:// is not allowed at site {SITE}" in e for *_, e in refused)


def test_the_care_team_naming_a_refused_channel_is_refused_by_name(
    api: TestClient, http: HttpReceiver, smtp: SmtpReceiver, run_service: type[Running]
) -> None:
    document = webhook_only(http, smtp)
    document["staff"][1]["channels"] = [smtp.url("cn1@example.org")]
    refused = api.put("/api/v1/care-team", json=document)
    assert refused.status_code == 422
    assert f"staff.1.channels.0: mailto:// is not allowed at site {SITE}" in refused.text
    assert str(smtp.port) not in refused.text  # the scheme, never the URL


def test_sms_gateways_get_the_short_form(
    db_url: str, http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    """The SMS form is chosen per channel at delivery. The SMS gateway is an outside service:
    a recording sender stands in for it (the webhook and mail paths above are real)."""
    policy = load_care_team(team(http, smtp)).policy
    sent: list[tuple[str, str, str]] = []

    def record(url: str, title: str, body: str) -> Outcome:
        sent.append((url.split("://")[0], title, body))
        return Outcome(True, None, 1.0)

    async def run() -> None:
        async with await AsyncConnection.connect(db_url, autocommit=True) as conn:
            await conn.execute("DELETE FROM delivery_attempts")
            await conn.execute("DELETE FROM notifications")
            for url in ("twilio://AC123:token@15551234567/15557654321", http.url("x")):
                await enqueue(
                    conn,
                    kind="page",
                    recipient="cg1",
                    channels=[url],
                    title="全文标题",
                    body="全文内容",
                    short="【高】设备报告跌倒 203 房 2 床",
                )
            delivery = Delivery(send=record, policy=policy)
            assert await delivery.run_once(conn, datetime.now(UTC)) == 2

    asyncio.run(run())
    assert sorted(sent) == [
        ("json", "全文标题", "全文内容"),
        ("twilio", "", "【高】设备报告跌倒 203 房 2 床"),
    ]
