"""Where the detector learns a device is worn: its record first (provisioning, read as the
detector's own database role), else what its status declared."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest

from ingest.codec import decode
from rules.fall_placement import Placement
from rules.types import DeviceStatus
from services.detector.residents import Placements, load_placement, load_placements
from services.settings import ServiceRole
from tests.support import SITE, Conn


class Records:
    def __init__(self, table: dict[str, Placement | None]) -> None:
        self.table = table
        self.all_reads = 0

    def one(self, device_id: str) -> Placement | None:
        return self.table.get(device_id)

    def all(self) -> dict[str, Placement | None]:
        self.all_reads += 1
        return dict(self.table)


def test_the_record_comes_first_then_the_declaration() -> None:
    records = Records({"w1": "wrist", "w2": None})
    placements = Placements(records.one, records.all, lambda: 0.0)
    assert placements.of("w1") == "wrist"
    assert placements.of("w2") is None  # not declared anywhere: the general settings
    placements.declare("w2", "pendant")
    placements.declare("w1", "waist")  # the provisioned fact stands
    assert (placements.of("w1"), placements.of("w2")) == ("wrist", "pendant")
    assert placements.of("unknown") is None
    assert records.all_reads == 1


def test_a_status_may_declare_the_placement() -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    topic = f"carewatch/v1/{SITE}/w1/status"
    message = decode(topic, b'{"online": true, "placement": "wrist"}', received_at=now)
    (status,) = message.observations
    assert isinstance(status, DeviceStatus) and status.placement == "wrist"
    plain = decode(topic, b'{"online": true}', received_at=now)
    (status,) = plain.observations
    assert isinstance(status, DeviceStatus) and status.placement is None


@pytest.mark.services
def test_the_detector_role_reads_placements_and_nothing_secret(
    role_db_url: Callable[[ServiceRole], str], db: Conn, ward: str
) -> None:
    worn, plain = f"pl-{uuid.uuid4().hex[:10]}", f"pl-{uuid.uuid4().hex[:10]}"
    for device, placement in ((worn, "waist"), (plain, None)):
        db.execute(
            "INSERT INTO devices (device_id, site_id, kind, secret_hash, placement)"
            " VALUES (%s, %s, 'wearable', 'x', %s)",
            [device, ward, placement],
        )
    with psycopg.connect(role_db_url("detector"), autocommit=True) as detector:
        everyone = load_placements(detector)
        assert everyone[worn] == "waist" and everyone[plain] is None
        assert load_placement(detector, worn) == "waist"
        assert load_placement(detector, "no-such-device") is None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            detector.execute("SELECT secret_hash FROM devices")


@pytest.mark.services
def test_the_record_refuses_an_unknown_placement(db: Conn, ward: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO devices (device_id, site_id, kind, secret_hash, placement)"
            " VALUES (%s, %s, 'wearable', 'x', 'ankle')",
            [f"pl-{uuid.uuid4().hex[:10]}", ward],
        )
