"""One device's way to the broker: Wi-Fi drops and backfill, duplicates, out-of-order and
malformed copies, each as its labels say, from a seeded stream of its own."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import device_sim.faults as faults_module
from device_sim.devices import SimDevice
from device_sim.faults import DeviceFaults, Faults
from device_sim.labels import Labels
from device_sim.malformed import EXPECTED_REASON
from device_sim.messages import Delivery, Message, epoch_ms, status_message, vitals_message
from device_sim.physiology import Vitals
from device_sim.status import StatusReading

DEVICE = SimDevice("w-001", "site-a", "wearable", "pw", "r1")
START = datetime(2025, 3, 1, tzinfo=UTC)


def produced(seconds: int) -> list[tuple[float, Message]]:
    """A reading every second, a status every 60 s, seq in order."""
    out: list[tuple[float, Message]] = []
    seq = 0
    for k in range(seconds):
        ts = epoch_ms(START + timedelta(seconds=k))
        if k % 60 == 0:
            seq += 1
            status: StatusReading = {"battery": 90, "online": True, "rssi": -60, "fw": "t"}
            out.append((float(k), status_message(DEVICE, status, seq=seq, ts_ms=ts)))
        seq += 1
        vitals: Vitals = {
            "hr": 70,
            "spo2": 97,
            "rr": 15,
            "temp": 36.6,
            "sbp": 120,
            "dbp": 80,
            "on_o2": False,
        }
        out.append((float(k), vitals_message(DEVICE, vitals, seq=seq, ts_ms=ts)))
    return out


def through(
    faults: Faults, seconds: int = 3600, seed: int = 1
) -> tuple[list[Delivery], DeviceFaults, Labels]:
    labels = Labels(UTC)
    device = DeviceFaults(DEVICE.device_id, faults, seed=seed, start=START, labels=labels)
    out: list[Delivery] = []
    last = 0.0
    for offset, message in produced(seconds):
        out += device.feed(offset, message)
        last = offset
    out += device.finish(last)
    return out, device, labels


def seq(d: Delivery) -> int:
    value: int = json.loads(d.message.payload)["seq"]
    return value


def offsets_never_go_back(out: list[Delivery]) -> bool:
    return all(a.offset_s <= b.offset_s for a, b in itertools.pairwise(out))


def produced_at(seconds: int) -> dict[int, float]:
    return {json.loads(m.payload)["seq"]: offset for offset, m in produced(seconds)}


def test_without_faults_everything_goes_as_produced() -> None:
    out, device, labels = through(Faults(), seconds=300)
    assert [(d.offset_s, d.message) for d in out] == produced(300)
    assert {d.kind for d in out} == {"data"} and not labels.records
    assert device.lost == device.unsent == 0


def test_a_wifi_drop_holds_everything_and_sends_it_on_reconnecting() -> None:
    out, device, labels = through(Faults(wifi_drops_per_day=200.0))
    drops = [r for r in labels.records if r["kind"] == "wifi_drop"]
    assert len(drops) >= 3 and offsets_never_go_back(out)
    sent = produced(3600)
    for drop in drops:
        start = (datetime.fromisoformat(drop["start"]) - START).total_seconds()
        back = (datetime.fromisoformat(drop["reconnected_at"]) - START).total_seconds()
        assert 20 <= (datetime.fromisoformat(drop["end"]) - START).total_seconds() - start <= 900
        assert not [d for d in out if start < d.offset_s < back]
        burst = [d for d in out if d.offset_s == back][: drop["backfilled"]]
        held = [m for o, m in sent if start <= o < back]
        readings = [m for m in held if m.stream != "status"]
        statuses = [m for m in held if m.stream == "status"]
        # The latest status alone, then every reading in the order produced, unchanged.
        expected = statuses[-1:] + readings
        assert [d.message for d in burst] == expected
        assert {d.kind for d in burst} == {"backfill"}
        assert drop["statuses_superseded"] == max(0, len(statuses) - 1)
        assert drop["lost"] == 0
    assert device.lost == 0


def test_a_full_buffer_drops_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults_module, "BUFFER_MAX", 5)
    _, device, labels = through(Faults(wifi_drops_per_day=200.0))
    drops = [r for r in labels.records if r["kind"] == "wifi_drop"]
    assert device.lost == sum(d["lost"] for d in drops) > 0
    for drop in drops:
        assert drop["backfilled"] <= 5 + 1  # the buffer, and the latest status


def test_a_run_that_ends_offline_leaves_the_backlog_unsent() -> None:
    labels = Labels(UTC)
    device = DeviceFaults(
        "w-001", Faults(wifi_drops_per_day=86400.0), seed=3, start=START, labels=labels
    )
    out: list[Delivery] = []
    for offset, message in produced(30):
        out += device.feed(offset, message)
    out += device.finish(29.0)
    open_drops = [r for r in labels.records if r["reconnected_at"] is None]
    assert len(open_drops) == 1 and device.unsent > 0
    assert len(out) + device.unsent + open_drops[0]["statuses_superseded"] <= len(produced(30))


def test_duplicates_are_the_same_bytes_a_few_messages_later() -> None:
    out, _, labels = through(Faults(duplicate_rate=0.2))
    dups = [d for d in out if d.kind == "duplicate"]
    assert 500 < len(dups) < 1000  # 20 % of 3,600 readings
    assert len(dups) == sum(1 for r in labels.records if r["kind"] == "duplicate")
    when = produced_at(3600)
    originals = {seq(d): d for d in out if d.kind == "data"}
    for d in dups:
        assert originals[seq(d)].message == d.message
        # Sent again after 1 to 3 more messages went out (one a second here, unless held).
        assert d.offset_s - when[seq(d)] >= 1
        assert d.message.stream != "status"


def test_late_messages_come_after_one_to_three_later_ones() -> None:
    out, _, labels = through(Faults(reorder_rate=0.2))
    late = [d for d in out if d.kind == "late"]
    assert len(late) == sum(1 for r in labels.records if r["kind"] == "out_of_order") > 500
    assert sorted(seq(d) for d in out) == list(range(1, len(produced(3600)) + 1))  # none lost
    when = produced_at(3600)
    highest = 0
    for d in out:
        if d.kind == "late":
            assert highest > seq(d)  # overtaken
            assert d.offset_s - when[seq(d)] >= 1
            assert d.message.stream != "status"
        highest = max(highest, seq(d))


def test_malformed_copies_follow_readings_at_the_rate_and_of_the_kinds_asked() -> None:
    faults = Faults(malformed_rate=0.1, malformed_kinds=("truncated", "bad_topic"))
    out, _, labels = through(faults)
    bad = [d for d in out if d.kind == "malformed"]
    assert 250 < len(bad) < 470  # 10 % of 3,600 readings
    assert {d.detail for d in bad} == {"truncated", "bad_topic"}
    records = [r for r in labels.records if r["kind"] == "malformed"]
    assert [(r["malformed"], r["topic"]) for r in records] == [
        (d.detail, d.message.topic) for d in bad
    ]
    assert all(r["reason"] == EXPECTED_REASON[r["malformed"]] for r in records)
    for i, d in enumerate(out):
        if d.kind == "malformed":
            assert out[i - 1].kind == "data" and out[i - 1].offset_s == d.offset_s
            assert out[i - 1].message.stream == "vitals"


def test_same_seed_and_device_same_faults_another_device_its_own() -> None:
    faults = Faults(
        wifi_drops_per_day=50, duplicate_rate=0.05, reorder_rate=0.05, malformed_rate=0.05
    )
    one, _, labels_one = through(faults, seconds=1200)
    two, _, labels_two = through(faults, seconds=1200)
    assert one == two and labels_one.records == labels_two.records
    three, _, _ = through(faults, seconds=1200, seed=2)
    assert three != one


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"wifi_drops_per_day": -1.0}, "wifi_drops_per_day"),
        ({"clock_drift_ppm": float("nan")}, "clock_drift_ppm"),
        ({"clock_drift_ppm": 5000.0}, "not a clock"),
        ({"duplicate_rate": 1.5}, "duplicate_rate"),
        ({"reorder_rate": -0.1}, "reorder_rate"),
        ({"malformed_rate": 2.0}, "malformed_rate"),
        ({"malformed_kinds": ()}, "empty"),
        ({"malformed_kinds": ("gibberish",)}, "unknown malformed"),
    ],
    ids=["drops", "drift-nan", "drift-huge", "dups", "reorder", "malformed", "no-kinds", "kind"],
)
def test_invalid_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Faults(**kwargs)


def test_what_counts_as_on_the_way() -> None:
    assert not Faults().on_the_way
    assert not Faults(clock_drift_ppm=50).on_the_way  # the device's clock, not the way
    assert Faults(duplicate_rate=0.01).on_the_way
