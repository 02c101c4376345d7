"""Issue 16: the detector learns where each device is worn, from its record or its status, and
claims no fall from a bed sensor's motion. Through the real broker, database and detector."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
from psycopg.types.json import Jsonb

from device_sim.motion import generate
from tests.conftest import ServiceProcess
from tests.support import SITE, UNIT, Conn, Device, candidates, wait_for

AT_ONCE = {"fall": {"cancel_window_s": 0}}


def resident(db: Conn, name: str) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, rule_overrides)"
        " VALUES (%s, %s, %s, %s) RETURNING resident_id",
        [SITE, UNIT, name, Jsonb(AT_ONCE)],
    ).fetchone()
    assert row is not None
    return int(row[0])


def send_fall(device: Device, start: datetime) -> None:
    rec = generate(
        "fall_backward_walking", placement="waist", hz=50.0, rng=np.random.default_rng(0)
    )
    for offset, samples in rec.windows(2.0):
        ts = start + timedelta(seconds=offset)
        device.publish(
            f"carewatch/v1/{SITE}/{device.device_id}/motion",
            {
                "ts": ts.isoformat(),
                "hz": 50,
                "ax": [round(v, 3) for v in samples[:, 0].tolist()],
                "ay": [round(v, 3) for v in samples[:, 1].tolist()],
                "az": [round(v, 3) for v in samples[:, 2].tolist()],
            },
        )


def test_a_bed_sensor_claims_no_fall_where_a_worn_device_does(
    db: Conn, detector: ServiceProcess, make_device: Callable[..., Device]
) -> None:
    worn, in_bed, declares_bed = (resident(db, n) for n in ("Wang Fang", "Li Na", "Zhao Lei"))
    wrist = make_device(resident_id=worn, placement="wrist")
    bed = make_device("bed_sensor", resident_id=in_bed, placement="bed")
    undeclared = make_device("bed_sensor", resident_id=declares_bed)
    # Provisioned without a placement, this one says where it is in its status.
    undeclared.publish(
        f"carewatch/v1/{SITE}/{undeclared.device_id}/status",
        {"ts": int(time.time() * 1000), "online": True, "placement": "bed"},
    )
    start = datetime.now(UTC) - timedelta(seconds=30)
    for device in (undeclared, bed, wrist):  # the control last: once it pages, all were seen
        send_fall(device, start)
    wait_for(
        lambda: candidates(db, worn),
        until=lambda c: ("fall.motion", "raise") in c,
        timeout=30,
        what="the wrist-worn device's fall",
    )
    assert candidates(db, in_bed) == []
    assert candidates(db, declares_bed) == []
