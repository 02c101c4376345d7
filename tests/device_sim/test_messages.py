"""Protocol v1 messages built by the simulator: topics, payloads, seq and ts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from device_sim.devices import SimDevice
from device_sim.messages import (
    MAX_CLOCK_OFFSET_S,
    DeviceClock,
    Message,
    bed_message,
    device_topic,
    epoch_ms,
    event_message,
    motion_message,
    reading_message,
    restamp,
    status_message,
    vitals_message,
    will_message,
)
from device_sim.physiology import BedReading, Vitals
from device_sim.status import StatusReading

WEARABLE = SimDevice("w-001", "site_A", "wearable", "s3cret", "res-1")
BED = SimDevice("b-001", "site_A", "bed_sensor", "s3cret", "res-1")
VITALS: Vitals = {
    "hr": 72,
    "spo2": 97,
    "rr": 16,
    "temp": 36.6,
    "sbp": 128,
    "dbp": 78,
    "on_o2": False,
}
IN_BED: BedReading = {"occupied": True, "movement": 0.05, "hr": 64, "rr": 14}
EMPTY_BED: BedReading = {"occupied": False, "movement": 0.0}
STATUS: StatusReading = {"battery": 87, "online": True, "rssi": -61, "fw": "sim-0.1"}
TOPIC = re.compile(r"carewatch/v1/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,64}/(vitals|bed|status)")
TS = 1_740_787_200_000  # 2025-03-01T00:00:00Z


@pytest.mark.parametrize(
    ("message", "topic", "keys", "retain"),
    [
        (
            vitals_message(WEARABLE, VITALS, seq=5, ts_ms=TS),
            "carewatch/v1/site_A/w-001/vitals",
            ["ts", "seq", "hr", "spo2", "rr", "temp", "sbp", "dbp", "on_o2"],
            False,
        ),
        (
            bed_message(BED, IN_BED, seq=5, ts_ms=TS),
            "carewatch/v1/site_A/b-001/bed",
            ["ts", "seq", "occupied", "movement", "hr", "rr"],
            False,
        ),
        (
            bed_message(BED, EMPTY_BED, seq=5, ts_ms=TS),
            "carewatch/v1/site_A/b-001/bed",
            ["ts", "seq", "occupied", "movement"],
            False,
        ),
        (
            status_message(WEARABLE, STATUS, seq=5, ts_ms=TS),
            "carewatch/v1/site_A/w-001/status",
            ["ts", "seq", "battery", "online", "rssi", "fw"],
            True,
        ),
    ],
    ids=["vitals", "bed-occupied", "bed-empty", "status"],
)
def test_message_topic_keys_and_retain(
    message: Message, topic: str, keys: list[str], retain: bool
) -> None:
    assert message.topic == topic
    assert TOPIC.fullmatch(message.topic)
    assert message.topic.rsplit("/", 1)[1] == message.stream
    body = json.loads(message.payload.decode("utf-8"))
    assert list(body) == keys
    assert body["ts"] == TS and type(body["ts"]) is int
    assert body["seq"] == 5
    assert message.retain is retain


def test_payload_is_compact_utf8_json_with_the_reading_verbatim() -> None:
    message = vitals_message(WEARABLE, VITALS, seq=1, ts_ms=TS)
    assert b" " not in message.payload
    assert json.loads(message.payload) == {"ts": TS, "seq": 1, **VITALS}


def test_will_is_offline_retained_on_the_status_topic_without_ts() -> None:
    will = will_message(BED)
    assert will.topic == device_topic(BED, "status") == "carewatch/v1/site_A/b-001/status"
    assert json.loads(will.payload) == {"online": False}
    assert will.retain


def test_seq_increases_per_device_across_streams() -> None:
    clock = DeviceClock()
    t = datetime(2025, 3, 1, tzinfo=UTC)
    messages = []
    for k in range(5):
        builders: list[Callable[[int, int], Message]] = [
            lambda seq, ts: status_message(WEARABLE, STATUS, seq=seq, ts_ms=ts),
            lambda seq, ts: vitals_message(WEARABLE, VITALS, seq=seq, ts_ms=ts),
        ]
        for build in builders:
            seq, ts = clock.stamp(t + timedelta(seconds=k))
            messages.append(build(seq, ts))
    bodies = [json.loads(m.payload) for m in messages]
    assert [b["seq"] for b in bodies] == list(range(1, 11))
    assert clock.last_seq == 10
    assert [b["ts"] for b in bodies][::2] == [TS + 1000 * k for k in range(5)]


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        (datetime(2025, 3, 1, tzinfo=UTC), TS),
        (datetime(2025, 3, 1, 8, tzinfo=timezone(timedelta(hours=8))), TS),
        (datetime(2025, 3, 1, 0, 0, 0, 999_999, tzinfo=UTC), TS + 999),
    ],
    ids=["epoch", "utc", "offset", "truncates-microseconds"],
)
def test_epoch_ms(when: datetime, expected: int) -> None:
    assert epoch_ms(when) == expected


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        DeviceClock().stamp(datetime(2025, 3, 1))  # noqa: DTZ001 - naive on purpose


@pytest.mark.parametrize(
    ("device", "build"),
    [
        (BED, lambda d: vitals_message(d, VITALS, seq=1, ts_ms=TS)),
        (WEARABLE, lambda d: bed_message(d, IN_BED, seq=1, ts_ms=TS)),
    ],
    ids=["bed-sensor-vitals", "wearable-bed"],
)
def test_a_device_publishes_only_its_own_streams(device: SimDevice, build: object) -> None:
    with pytest.raises(ValueError, match="does not publish"):
        build(device)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("field", "value"),
    [("hr", 251), ("spo2", 101), ("rr", 2), ("temp", 43.5), ("sbp", 49), ("dbp", 201)],
)
def test_a_value_outside_the_protocol_range_is_a_bug_not_a_message(
    field: str, value: float
) -> None:
    with pytest.raises(ValueError, match="outside protocol range"):
        vitals_message(WEARABLE, {**VITALS, field: value}, seq=1, ts_ms=TS)  # type: ignore[misc]


def test_motion_window_and_events() -> None:
    motion = motion_message(WEARABLE, 50.0, [0.0, 0.1], [-1.0, -0.9], [0.0, 0.05], seq=3, ts_ms=TS)
    assert motion.topic == "carewatch/v1/site_A/w-001/motion" and not motion.retain
    assert json.loads(motion.payload) == {
        "ts": TS,
        "seq": 3,
        "hz": 50.0,
        "ax": [0.0, 0.1],
        "ay": [-1.0, -0.9],
        "az": [0.0, 0.05],
    }
    with pytest.raises(ValueError, match="equally many"):
        motion_message(WEARABLE, 50.0, [0.0], [0.0, 1.0], [0.0], seq=1, ts_ms=TS)
    with pytest.raises(ValueError, match="does not publish"):
        motion_message(BED, 50.0, [0.0], [0.0], [0.0], seq=1, ts_ms=TS)
    event = event_message(BED, "bed_exit", seq=4, ts_ms=TS)
    assert event.topic == "carewatch/v1/site_A/b-001/event"
    assert json.loads(event.payload) == {"ts": TS, "seq": 4, "type": "bed_exit"}
    zone = event_message(WEARABLE, "zone_exit", seq=5, ts_ms=TS, zone="garden", confidence=0.9)
    assert json.loads(zone.payload)["zone"] == "garden"
    assert json.loads(zone.payload)["confidence"] == 0.9


def test_a_drifting_clock_gains_its_skew_and_is_resynchronised_in_the_end() -> None:
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    clock = DeviceClock(skew=50e-6)
    assert clock.stamp(t0) == (1, TS)  # the origin is the first stamp
    _, ts = clock.stamp(t0 + timedelta(days=1))
    assert ts - (TS + 86_400_000) == 4320  # 50 ppm: 4.32 s a day
    slow = DeviceClock(skew=-0.005, origin=t0)
    assert slow.offset_s(t0 + timedelta(days=1)) == -MAX_CLOCK_OFFSET_S
    assert slow.stamp(t0 + timedelta(days=1))[1] == TS + 86_400_000 - 240_000
    with pytest.raises(ValueError, match="plausible"):
        DeviceClock(skew=0.5)


def test_restamp_keeps_the_body_and_reading_message_retains_status() -> None:
    status = reading_message(WEARABLE, "status", {"battery": 50, "online": True}, seq=1, ts_ms=TS)
    assert status.retain
    again = restamp(status, seq=9, ts_ms=TS + 5)
    assert json.loads(again.payload) == {"ts": TS + 5, "seq": 9, "battery": 50, "online": True}
    assert (again.topic, again.retain) == (status.topic, True)
    assert not reading_message(BED, "bed", {"occupied": False}, seq=1, ts_ms=TS).retain
