"""Device alerts through the real pipeline: a device → the broker → the detector → the alert
service → a real receiver. Technical alerts take their own route (never a physician), an
offline episode is one alert however the link flaps, and late data about a condition that
had ended before it arrived is recorded as history, not paged."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, resident, store, team
from tests.receivers import HttpReceiver, Received, SmtpReceiver
from tests.support import Conn, Device, count, wait_for


def now_ms() -> int:
    return int(time.time() * 1000)


def topic(device: Device, stream: str) -> str:
    return f"carewatch/v1/t1/{device.device_id}/{stream}"


def overrides(db: Conn, resident_id: int, rules: dict[str, object]) -> None:
    db.execute(
        "UPDATE residents SET rule_overrides = %s WHERE resident_id = %s",
        [Jsonb(rules), resident_id],
    )


def heartbeat(device: Device) -> None:
    """A status message with the device's own time: it is alive."""
    device.publish(topic(device, "status"), {"ts": now_ms(), "battery": 90})


def gone(device: Device) -> None:
    """The device's last will, as the broker publishes it: no time of its own."""
    device.publish(topic(device, "status"), {"online": False})


def about(http: HttpReceiver, name: str) -> list[Received]:
    """The messages about one resident: the session's detector also watches the devices of
    earlier tests, which go silent and page the same caregiver."""
    return [r for r in http.items if name in r.title]


def sos(device: Device, http: HttpReceiver, name: str) -> Received:
    """A live SOS: it pages the caregiver, and candidates are taken in order, so once its page
    is here everything the device said before it has been through the alert service."""
    device.publish(topic(device, "event"), {"ts": now_ms(), "type": "sos"})
    return wait_for(
        lambda: [r for r in about(http, name) if "SOS" in r.title],
        until=bool,
        timeout=20,
        what="the SOS page (barrier)",
    )[0]


def test_a_device_offline_pages_the_caregiver_never_a_physician_and_names_the_device(
    db: Conn,
    api: TestClient,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    detector: ServiceProcess,
    make_device: Callable[..., Device],
) -> None:
    step_s = 1.0  # the clinical policy reaches the physician 2 s after the first page
    store(db, team(http, smtp, step_s=step_s))
    rid = resident(db, "Gao Lan")
    overrides(db, rid, {"devices": {"offline_grace_s": 0}})  # the will pages at once
    service = run_service(settings)
    device = make_device("wearable", rid)
    heartbeat(device)
    began = time.time()
    gone(device)
    page = wait_for(
        lambda: about(http, "Gao Lan"), until=bool, timeout=20, what="the caregiver's page"
    )[0]
    assert page.path == "/cg1"
    steps = service.metric("carewatch_alert_step_seconds_count")
    wait_for(
        lambda: (time.time(), service.metric("carewatch_alert_step_seconds_count")),
        until=lambda s: s[0] > began + 3 * step_s + 2 and s[1] >= steps + 3,
        what="escalation steps past the physician's due time",
    )
    # The caregiver once (no reminder every minute), no charge nurse, no physician.
    assert [r.path for r in about(http, "Gao Lan")] == ["/cg1"]
    assert not [m for m in smtp.items if "Gao Lan" in m.subject]
    assert f"Device disconnected (wristband {device.device_id})" in page.title, page.title
    row = db.execute(
        "SELECT i.audience, i.escalation_step, a.\"values\"->>'device_kind' FROM alerts a"
        " JOIN incidents i USING (incident_id) WHERE a.resident_id = %s",
        [rid],
    ).fetchall()
    assert row == [("technical", 1, "wearable")]
    queue = api.get("/api/v1/alerts", params={"audience": "technical", "resident": rid}).json()
    assert [(a["rule_id"], a["audience"]) for a in queue["items"]] == [
        ("device.offline", "technical")
    ]


def test_a_flapping_device_is_one_alert_and_one_page(
    db: Conn,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    detector: ServiceProcess,
    make_device: Callable[..., Device],
) -> None:
    store(db, team(http, smtp))
    rid = resident(db, "Qian Bo")
    overrides(db, rid, {"devices": {"offline_grace_s": 0}})
    run_service(settings)
    device = make_device("bed_sensor", rid)
    heartbeat(device)
    for _ in range(4):  # a weak link: offline, back, offline, back, ...
        gone(device)
        heartbeat(device)
    sos(device, http, "Qian Bo")
    wait_for(
        lambda: count(
            db,
            "SELECT count(*) FROM notifications n JOIN incidents i USING (incident_id)"
            " WHERE i.resident_id = %s AND n.status = 'pending'",
            rid,
        ),
        until=lambda n: n == 0,
        what="every page about the resident delivered",
    )
    # One alert, still open: the episode ends once the device stays back (flap_damping_s).
    rows = db.execute(
        "SELECT resolved_at FROM alerts WHERE rule_id = 'device.offline' AND resident_id = %s",
        [rid],
    ).fetchall()
    assert rows == [(None,)]
    offline = [r for r in about(http, "Qian Bo") if "Device disconnected" in r.title]
    assert len(offline) == 1, [r.title for r in about(http, "Qian Bo")]
    assert f"bed sensor {device.device_id}" in offline[0].title


def test_a_backfilled_condition_that_had_ended_is_recorded_not_paged(
    db: Conn,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    detector: ServiceProcess,
    make_device: Callable[..., Device],
) -> None:
    store(db, team(http, smtp))
    rid = resident(db, "Lu Xin")
    run_service(settings)
    device = make_device("wearable", rid)
    heartbeat(device)  # live: the device is not silent while its backlog comes in
    # Back from a Wi-Fi drop, it sends what it buffered half an hour ago: a desaturation
    # (below 90 % for 25 s, past the 15 s persistence) that recovered within a minute.
    start = now_ms() - 30 * 60_000
    for second in range(70):
        spo2 = 86 if 5 <= second < 30 else 97
        device.publish(topic(device, "vitals"), {"ts": start + second * 1000, "spo2": spo2})
    sos(device, http, "Lu Xin")
    alert = wait_for(
        lambda: db.execute(
            "SELECT alert_id, incident_id, outcome, note FROM alerts"
            " WHERE resident_id = %s AND rule_id = 'vital.spo2.low'",
            [rid],
        ).fetchall(),
        until=lambda rows: len(rows) == 1 and rows[0][2] is not None,
        what="the desaturation recorded and resolved",
    )[0]
    assert alert[2] == "self_cleared" and "ended before its data arrived" in alert[3]
    assert count(db, "SELECT count(*) FROM notifications WHERE incident_id = %s", alert[1]) == 0
    assert [r.title for r in about(http, "Lu Xin") if "SOS" not in r.title] == []
