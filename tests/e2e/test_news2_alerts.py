"""NEWS2 through the real pipeline (issue 12, item 3): device → broker → detector → alert
service → a real receiver. A stale "on oxygen" entry is missing data: it never clears the
alert it raised, while the same detector clears a resident whose oxygen was charted off."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from psycopg.types.json import Jsonb

from services.settings import Settings
from tests.conftest import ServiceProcess
from tests.e2e.alerting import Running, store, team
from tests.receivers import HttpReceiver, SmtpReceiver
from tests.support import SITE, UNIT, Conn, Device, wait_for

OXYGEN_COUNTS_S = 20  # the "on oxygen" entry's freshness here (12 h by default)
FAST: dict[str, Any] = {
    "news2_every_s": 0.2,  # re-scored at every detector tick (1 s)
    "news2": {
        "max_age_s": {"on_o2": OXYGEN_COUNTS_S},
        "raise_after_s": {"low_medium": 0, "medium": 0, "high": 0},
        "clear_after_s": 1,
        # One device report counts as it is (not a 5-minute median): these tests are about
        # oxygen and escalation, each step one report.
        "continuous": {"window_s": 0},
    },
}


def scale_2_resident(db: Conn, name: str) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, news2_scale, rule_overrides)"
        " VALUES (%s, %s, %s, 2, %s) RETURNING resident_id",
        [SITE, UNIT, name, Jsonb(FAST)],
    ).fetchone()
    assert row is not None
    db.commit()
    return int(row[0])


def chart(db: Conn, rid: int, **values: float) -> None:
    """A round's observations, as the API records them."""
    now = datetime.now(UTC)
    for metric, value in values.items():
        db.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, 'manual', %s)"
            " ON CONFLICT (device_id, metric, ts) DO UPDATE SET value = excluded.value",
            [now, f"manual-{rid}", rid, metric, value, now],
        )
        db.execute(
            "INSERT INTO manual_observations (resident_id, metric, value, ts, recorded_by)"
            " VALUES (%s, %s, %s, %s, 'test')",
            [rid, metric, value, now],
        )
    db.commit()


def vitals(device: Device, **values: float) -> None:
    device.publish(
        f"carewatch/v1/t1/{device.device_id}/vitals", {"ts": int(time.time() * 1000), **values}
    )


def news2_alerts(db: Conn, rid: int) -> list[tuple[int, str, str, bool]]:
    """(alert id, severity, title, cleared or resolved) of the resident's NEWS2 alerts."""
    rows = db.execute(
        "SELECT alert_id, severity, title, condition_cleared OR resolved_at IS NOT NULL FROM alerts"
        " WHERE resident_id = %s AND rule_id = 'news2' ORDER BY alert_id",
        [rid],
    ).fetchall()
    db.commit()
    return [(int(a), str(s), str(t), bool(r)) for a, s, t, r in rows]


def news2_actions(db: Conn, rid: int) -> list[str]:
    rows = db.execute(
        "SELECT action FROM alert_candidates WHERE subject = %s AND rule_id = 'news2' ORDER BY id",
        [f"resident:{rid}"],
    ).fetchall()
    db.commit()
    return [str(a) for (a,) in rows]


def test_a_stale_oxygen_entry_never_clears_a_live_alert(
    db: Conn,
    settings: Settings,
    http: HttpReceiver,
    smtp: SmtpReceiver,
    run_service: type[Running],
    make_device: Callable[..., Device],
    detector: ServiceProcess,
) -> None:
    store(db, team(http, smtp))
    run_service(settings)
    stale_one = scale_2_resident(db, "Oxygen Stale")
    control = scale_2_resident(db, "Oxygen Off")
    try:
        watch_oxygen(db, http, make_device, stale_one, control)
    finally:
        # Their devices fall silent after the test: their device alerts belong to no later
        # test's unit.
        db.execute(
            "INSERT INTO units VALUES (%s, 'n2-done', 'Finished') ON CONFLICT DO NOTHING", [SITE]
        )
        db.execute(
            "UPDATE residents SET unit_id = 'n2-done' WHERE resident_id = ANY(%s)",
            [[stale_one, control]],
        )
        db.commit()


def watch_oxygen(
    db: Conn,
    http: HttpReceiver,
    make_device: Callable[..., Device],
    stale_one: int,
    control: int,
) -> None:
    devices = {rid: make_device(resident_id=rid) for rid in (stale_one, control)}
    # Scale 2 on oxygen: SpO2 95 → 2, oxygen → 2, HR 91 → 1: NEWS2 5, medium. On air: 1.
    charted_at = time.monotonic()
    for rid, device in devices.items():
        vitals(device, spo2=95, hr=91, rr=16, temp=37.0, sbp=120)
        chart(db, rid, on_o2=1, acvpu=0)
    for rid in devices:
        wait_for(
            partial(news2_alerts, db, rid),
            until=lambda alerts: len(alerts) == 1 and alerts[0][1] == "high",
            timeout=OXYGEN_COUNTS_S - 5,  # raised before the oxygen entry goes stale
            what="the NEWS2 5 alert",
        )
    http.wait(2, timeout=15, what="both pages")
    # Time is what makes the entry stale: let it pass (bounded), then chart the control
    # resident's oxygen off. The detector re-scores both at every tick: the control clears on
    # a complete score of 1, and by then the stale entry has been unknown for longer.
    wait_for(
        time.monotonic,
        until=lambda t: t > charted_at + OXYGEN_COUNTS_S + 1,
        timeout=OXYGEN_COUNTS_S + 5,
        what="the oxygen entry to go stale",
        every=0.2,
    )
    chart(db, control, on_o2=0)
    wait_for(
        lambda: news2_alerts(db, control),
        until=lambda alerts: alerts[0][3],
        timeout=30,
        what="the control resident's alert to clear",
    )
    assert "clear" not in news2_actions(db, stale_one)
    ((alert_id, severity, _, resolved),) = news2_alerts(db, stale_one)
    assert (severity, resolved) == ("high", False)

    # Still watched: what the device proves without oxygen escalates the same alert, saying
    # what is not known (RR 25 → 3, HR 131 → 3, SBP 90 → 3: at least 9).
    vitals(devices[stale_one], spo2=95, hr=131, rr=25, temp=37.0, sbp=90)
    escalated = wait_for(
        lambda: news2_alerts(db, stale_one),
        until=lambda alerts: alerts[-1][1] == "critical",
        timeout=30,
        what="the escalation",
    )
    assert [a[0] for a in escalated] == [alert_id]  # the same alert, never cleared
    assert escalated[0][2] == "NEWS2 ≥ 9: high clinical risk (missing or out of date: air/oxygen)"
    assert "clear" not in news2_actions(db, stale_one)
