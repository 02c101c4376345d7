"""Device → Mosquitto → ingest worker → TimescaleDB, for every stream of protocol v1."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import ServiceProcess
from tests.support import Conn, Device, count, new_resident, wait_for

pytestmark = pytest.mark.usefixtures("ingest_worker")


def now_ms(offset_s: float = 0.0) -> int:
    return int((time.time() + offset_s) * 1000)


def rows(db: Conn, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return db.execute(sql.encode(), params).fetchall()


def readings_of(db: Conn, device_id: str) -> list[tuple[Any, ...]]:
    return rows(
        db,
        "SELECT metric, value, source, resident_id, seq FROM readings WHERE device_id = %s"
        " ORDER BY metric",
        device_id,
    )


def wait_rows(db: Conn, sql: str, device_id: str, n: int) -> None:
    wait_for(lambda: count(db, sql, device_id), until=lambda got: got >= n, what=sql)
    assert count(db, sql, device_id) == n


def topic(device: Device, stream: str, site: str = "t1") -> str:
    return f"carewatch/v1/{site}/{device.device_id}/{stream}"


def test_vitals_are_stored_once_each_and_attributed(
    make_device: Callable[..., Device], db: Conn
) -> None:
    resident = new_resident(db)
    device = make_device(resident_id=resident)
    message = {
        "ts": now_ms(),
        "seq": 7,
        "hr": 72,
        "spo2": 97,
        "rr": 16,
        "temp": 36.6,
        "sbp": 128,
        "dbp": 79,
        "on_o2": False,
    }
    assert not device.publish(topic(device, "vitals"), message).is_failure
    wait_rows(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id, 7)
    assert readings_of(db, device.device_id) == [
        ("dbp", 79.0, "vitals", resident, 7),
        ("hr", 72.0, "vitals", resident, 7),
        ("on_o2", 0.0, "vitals", resident, 7),
        ("rr", 16.0, "vitals", resident, 7),
        ("sbp", 128.0, "vitals", resident, 7),
        ("spo2", 97.0, "vitals", resident, 7),
        ("temp", 36.6, "vitals", resident, 7),
    ]


def test_bed_readings(make_device: Callable[..., Device], db: Conn) -> None:
    device = make_device(kind="bed_sensor")
    device.publish(
        topic(device, "bed"),
        {"ts": now_ms(), "occupied": True, "hr": 61, "rr": 13, "movement": 0.2},
    )
    wait_rows(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id, 4)
    assert [(m, v, s) for m, v, s, *_ in readings_of(db, device.device_id)] == [
        ("hr", 61.0, "bed"),
        ("movement", 0.2, "bed"),
        ("occupied", 1.0, "bed"),
        ("rr", 13.0, "bed"),
    ]


def test_motion_window(make_device: Callable[..., Device], db: Conn) -> None:
    device = make_device()
    ax = [0.01 * i for i in range(50)]
    device.publish(
        topic(device, "motion"),
        {"ts": now_ms(), "hz": 50, "ax": ax, "ay": [-1.0] * 50, "az": [0.02] * 50},
    )
    wait_rows(db, "SELECT count(*) FROM motion_windows WHERE device_id = %s", device.device_id, 1)
    hz, stored_ax, stored_ay = rows(
        db, "SELECT hz, ax, ay FROM motion_windows WHERE device_id = %s", device.device_id
    )[0]
    assert hz == 50.0
    assert stored_ax == pytest.approx(ax, abs=1e-6)
    assert stored_ay == [-1.0] * 50


def test_event(make_device: Callable[..., Device], db: Conn) -> None:
    device = make_device()
    device.publish(topic(device, "event"), {"ts": now_ms(), "type": "fall", "confidence": 0.9})
    wait_rows(db, "SELECT count(*) FROM device_events WHERE device_id = %s", device.device_id, 1)
    assert rows(
        db,
        "SELECT type, zone, confidence FROM device_events WHERE device_id = %s",
        device.device_id,
    ) == [("fall", None, pytest.approx(0.9))]


def test_status_and_last_will_without_ts(make_device: Callable[..., Device], db: Conn) -> None:
    device = make_device()
    device.publish(
        topic(device, "status"),
        {"ts": now_ms(), "battery": 88, "online": True, "rssi": -61, "fw": "1.2.0"},
        retain=True,
    )
    device.publish(topic(device, "status"), {"online": False}, retain=True)  # as the LWT sends
    wait_rows(db, "SELECT count(*) FROM device_status WHERE device_id = %s", device.device_id, 2)
    assert rows(
        db,
        "SELECT battery, online, fw FROM device_status WHERE device_id = %s ORDER BY ts",
        device.device_id,
    ) == [(88.0, True, "1.2.0"), (None, False, None)]


def fhir_observation(code: str, value: float, unit: str, ts: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Device/x"},
        "effectiveDateTime": ts.isoformat(),
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def test_fhir_observations(make_device: Callable[..., Device], db: Conn) -> None:
    device = make_device()
    ts = datetime.now(UTC).replace(microsecond=0)
    device.publish(topic(device, "fhir"), fhir_observation("8867-4", 66, "/min", ts))
    device.publish(topic(device, "fhir"), fhir_observation("59408-5", 95, "%", ts))
    panel = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "effectiveDateTime": (ts + timedelta(seconds=1)).isoformat(),
        "component": [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {
                    "value": 131,
                    "unit": "mm[Hg]",
                    "code": "mm[Hg]",
                    "system": "http://unitsofmeasure.org",
                },
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {
                    "value": 82,
                    "unit": "mm[Hg]",
                    "code": "mm[Hg]",
                    "system": "http://unitsofmeasure.org",
                },
            },
        ],
    }
    device.publish(topic(device, "fhir"), panel)
    wait_rows(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id, 4)
    assert [(m, v, s) for m, v, s, *_ in readings_of(db, device.device_id)] == [
        ("dbp", 82.0, "fhir"),
        ("hr", 66.0, "fhir"),
        ("sbp", 131.0, "fhir"),
        ("spo2", 95.0, "fhir"),
    ]


def test_reassignment_keeps_the_past(
    make_device: Callable[..., Device], db: Conn, api: Any
) -> None:
    first, second = new_resident(db, "First"), new_resident(db, "Second")
    device = make_device(resident_id=first)
    switch = datetime.now(UTC) - timedelta(minutes=10)
    response = api.put(
        f"/api/v1/devices/{device.device_id}/resident",
        json={"resident_id": second, "at": switch.isoformat()},
    )
    assert response.status_code == 204, response.text
    before = int((switch - timedelta(minutes=5)).timestamp() * 1000)
    after = int((switch + timedelta(minutes=5)).timestamp() * 1000)
    device.publish(topic(device, "vitals"), {"ts": before, "hr": 70})  # a late, buffered reading
    device.publish(topic(device, "vitals"), {"ts": after, "hr": 90})
    wait_rows(db, "SELECT count(*) FROM readings WHERE device_id = %s", device.device_id, 2)
    assert rows(
        db,
        "SELECT value, resident_id FROM readings WHERE device_id = %s ORDER BY ts",
        device.device_id,
    ) == [(70.0, first), (90.0, second)]


def metric(worker: ServiceProcess, line_prefix: str) -> float:
    for line in worker.metrics().splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.split()[-1])
    return 0.0


def test_same_message_three_times_is_stored_once(
    make_device: Callable[..., Device], db: Conn, ingest_worker: ServiceProcess
) -> None:
    duplicates = 'carewatch_ingest_rows_duplicate_total{table="readings"}'
    before = metric(ingest_worker, duplicates)
    device = make_device()
    message = {"ts": now_ms(), "seq": 1, "hr": 80, "spo2": 96}
    for _ in range(3):
        device.publish(topic(device, "vitals"), message)
    marker = {"ts": now_ms(1), "seq": 2, "hr": 81}  # stored after the repeats: our barrier
    device.publish(topic(device, "vitals"), marker)
    wait_for(
        lambda: count(
            db, "SELECT count(*) FROM readings WHERE device_id = %s AND seq = 2", device.device_id
        ),
        until=lambda n: n == 1,
        what="the marker reading",
    )
    assert (
        count(
            db, "SELECT count(*) FROM readings WHERE device_id = %s AND seq = 1", device.device_id
        )
        == 2
    )
    assert metric(ingest_worker, duplicates) - before == 4  # two rows, repeated twice
