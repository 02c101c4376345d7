"""Malformed copies: each kind, made from each kind of reading, is rejected by ingest's own
classifier for the reason documented for it; the original is accepted."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from device_sim.devices import SimDevice
from device_sim.malformed import (
    EXPECTED_REASON,
    MALFORMED_KINDS,
    SOURCE_STREAMS,
    MalformedKind,
    malform,
)
from device_sim.messages import (
    Message,
    bed_message,
    epoch_ms,
    motion_message,
    status_message,
    vitals_message,
)
from ingest.codec import Limits
from ingest.errors import REJECT_REASONS
from ingest.pipeline import Inbound, classify
from ingest.writer import DeadLetter

WEARABLE = SimDevice("w-001", "site-a", "wearable", "pw", "r1")
BED = SimDevice("b-001", "site-a", "bed_sensor", "pw", "r1")
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
TS = epoch_ms(NOW)
READINGS: dict[str, Message] = {
    "vitals": vitals_message(
        WEARABLE,
        {"hr": 72, "spo2": 97, "rr": 16, "temp": 36.6, "sbp": 128, "dbp": 78, "on_o2": False},
        seq=5,
        ts_ms=TS,
    ),
    "bed": bed_message(
        BED, {"occupied": True, "movement": 0.05, "hr": 60, "rr": 14}, seq=5, ts_ms=TS
    ),
    "empty-bed": bed_message(BED, {"occupied": False, "movement": 0.0}, seq=6, ts_ms=TS),
    "motion": motion_message(
        WEARABLE, 50.0, [0.0, 0.01] * 50, [-1.0, -0.99] * 50, [0.02, 0.0] * 50, seq=7, ts_ms=TS
    ),
}
SITES = {"w-001": "site-a", "b-001": "site-a"}
# What the worker decodes with: the deployment's retention (365 days by default) bounds `ts`.
WORKER_LIMITS = Limits(max_age=timedelta(days=365))


def judge(message: Message) -> DeadLetter | None:
    result = classify(
        Inbound(message.topic, message.payload, NOW + timedelta(seconds=1)),
        SITES.get,
        WORKER_LIMITS,
    )
    return result if isinstance(result, DeadLetter) else None


@pytest.mark.parametrize("source", sorted(READINGS))
@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_kind_is_rejected_for_its_documented_reason(kind: MalformedKind, source: str) -> None:
    original = READINGS[source]
    assert judge(original) is None
    for seed in range(5):  # the variant drawn (field, cut, position) varies with the draw
        bad = malform(kind, original, random.Random(seed))
        dead = judge(bad)
        assert dead is not None, (kind, source, bad.payload[:200])
        assert dead.reason == EXPECTED_REASON[kind], (kind, source, dead.detail)
        assert dead.device_id == original.topic.split("/")[3]  # findable by device
        assert bad.stream == original.stream and bad.retain is False


def test_every_reason_a_device_can_provoke_is_covered() -> None:
    # `unknown_device` needs a broker account without a device record: not a device's doing.
    # `retained` is the retain flag on a copy of a reading: tests/e2e/test_retained_and_old.py.
    assert set(EXPECTED_REASON.values()) == set(REJECT_REASONS) - {"unknown_device", "retained"}
    assert set(EXPECTED_REASON) == set(MALFORMED_KINDS)


def test_only_readings_are_broken() -> None:
    status = status_message(
        WEARABLE, {"battery": 80, "online": True, "rssi": -60, "fw": "x"}, seq=1, ts_ms=TS
    )
    assert "status" not in SOURCE_STREAMS
    with pytest.raises(ValueError, match="readings"):
        malform("truncated", status, random.Random(0))


def test_same_draw_same_copy() -> None:
    for kind in MALFORMED_KINDS:
        one = malform(kind, READINGS["vitals"], random.Random(3))
        two = malform(kind, READINGS["vitals"], random.Random(3))
        assert one == two
