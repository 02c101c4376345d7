"""The alarm burden bench's pure helpers: the injected events, and how pages are classified."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bench.alarm_plan import (
    AlertRow,
    Drop,
    InjectedSource,
    Injection,
    PageRow,
    actionable,
    ended_before_arrival,
    family_of,
    family_of_page,
    make_plan,
    paged_events,
    step_of,
    tally,
    wearable_off,
)
from device_sim.devices import SimDevice
from device_sim.messages import Delivery, DeviceClock, Message, reading_message

START = datetime(2026, 1, 5, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def alert(rule: str, resident: int | None, ts: float, key: str = "") -> AlertRow:
    return AlertRow(1, rule, resident, at(ts), key or f"{rule}:{resident}")


def test_families_and_steps() -> None:
    assert family_of("device.offline") == "device"
    assert family_of("outbreak.fever_cluster") == "outbreak"
    assert family_of("news2") == "clinical"
    assert family_of("fall.long_lie") == "clinical"
    assert step_of("charge_nurse") == "nurse"
    assert step_of("family_doctor") == "physician"
    assert step_of("infection_control") == "other"
    # A device alert that joined a clinical incident is paged as that clinical incident.
    mixed = PageRow("caregiver", at(0), (alert("device.offline", 1, 0), alert("news2", 1, 0)))
    assert family_of_page(mixed) == "clinical"


def test_plan_spreads_kinds_over_days_and_residents() -> None:
    plan = make_plan(30, 7, seed=1)
    assert len(plan) == 35
    for day in range(7):
        today = [i for i in plan if day * 86400 <= i.start_s < (day + 1) * 86400]
        assert sorted(i.kind for i in today) == [
            "deterioration",
            "device_offline",
            "fall",
            "hypoxia",
            "late_hypoxia",
        ]
        assert len({i.resident for i in today}) == 5
    assert make_plan(30, 7, seed=1) == plan


def test_actionable_only_for_the_injected_resident_family_and_time() -> None:
    plan = [Injection("hypoxia", 3, 1000, 2800)]
    assert actionable(
        PageRow("caregiver", at(1100), (alert("vital.spo2.low", 3, 1060),)), plan, START
    )
    # Another resident, another family, or hours later: not about the injected event.
    assert not actionable(
        PageRow("caregiver", at(1100), (alert("vital.spo2.low", 4, 1060),)), plan, START
    )
    assert not actionable(
        PageRow("caregiver", at(1100), (alert("device.offline", 3, 1060),)), plan, START
    )
    assert not actionable(
        PageRow("caregiver", at(9000), (alert("vital.spo2.low", 3, 9000),)), plan, START
    )


def test_ended_before_arrival_needs_late_data_and_an_end_before_the_reconnection() -> None:
    drop = Drop(2, at(100), at(700), at(700.5))
    late = alert("vital.hr.high", 2, 200)
    assert ended_before_arrival(late, at(500), [drop])
    # Still going when the backlog arrived, never cleared, or not raised from held data.
    assert not ended_before_arrival(late, at(900), [drop])
    assert not ended_before_arrival(late, None, [drop])
    assert not ended_before_arrival(alert("vital.hr.high", 2, 50), at(60), [drop])
    assert not ended_before_arrival(alert("vital.hr.high", 5, 200), at(500), [drop])
    # Silence is judged as it happens: a device offline during the drop is not late news.
    assert not ended_before_arrival(alert("device.offline", 2, 400), at(650), [drop])


def test_tally_counts_by_family_step_and_target() -> None:
    plan = [Injection("fall", 1, 1000, 1000)]
    drop = Drop(2, at(5000), at(5600), at(5601))
    fall = alert("fall", 1, 1000)
    offline = alert("device.offline", 3, 2000)
    backfilled = alert("vital.hr.high", 2, 5100)
    pages = [
        PageRow("caregiver", at(1010), (fall,)),
        PageRow("physician", at(1310), (fall,)),
        PageRow("caregiver", at(2000), (offline,)),
        PageRow("physician", at(2300), (offline,)),
        PageRow("caregiver", at(5601), (backfilled,)),
    ]
    clears = {backfilled.dedupe_key: [at(5000), at(5300)]}
    t = tally(pages, plan, START, clears, [drop])
    assert t.pages == 5
    assert t.by_family == {"clinical": 3, "device": 2}
    assert t.by_step == {"caregiver": 3, "physician": 2}
    assert t.clinical_nonactionable == 1  # the backfilled heart rate
    assert t.device_to_physicians == 1
    assert t.ended == 1
    events = paged_events(pages, plan, START)
    assert events == [(plan[0], at(1010))]
    assert paged_events(pages, [Injection("hypoxia", 9, 0, 100)], START)[0][1] is None


class _Ward:
    def __init__(self, deliveries: list[Delivery], devices: list[SimDevice]) -> None:
        self._deliveries = deliveries
        self.devices = devices

    def emitted(self):  # type: ignore[no-untyped-def]
        yield from self._deliveries


def test_injected_source_changes_only_the_planned_device_and_window() -> None:
    wearable = SimDevice("w1", "s", "wearable", "pw", "1")
    other = SimDevice("w2", "s", "wearable", "pw", "2")
    clocks = {"w1": DeviceClock(), "w2": DeviceClock()}

    def vitals(device: SimDevice, t: float) -> Delivery:
        body = {"hr": 70, "spo2": 97, "rr": 16, "temp": 36.8, "sbp": 120}
        msg = reading_message(device, "vitals", body, seq=1, ts_ms=int(at(t).timestamp() * 1000))
        return Delivery(t, device.device_id, msg)

    ward = _Ward(
        [vitals(wearable, 0), vitals(wearable, 120), vitals(other, 120), vitals(wearable, 3000)],
        [wearable, other],
    )
    plan = [
        Injection("hypoxia", 1, 60, 1800),
        Injection("fall", 2, 100, 100),
        Injection("device_offline", 1, 2900, 3100),
    ]
    out = list(InjectedSource(ward, plan, start=START, clocks=clocks).emitted())

    def body(m: Message) -> dict[str, object]:
        return dict(json.loads(m.payload))

    assert body(out[0].message)["spo2"] == 97
    assert out[1].device_id == "w2" and body(out[1].message)["type"] == "fall"
    assert body(out[2].message)["spo2"] == 84
    assert body(out[3].message)["spo2"] == 97  # the other resident
    # Offline: says so at the start, then nothing until the end.
    assert out[4].offset_s == 2900 and body(out[4].message)["online"] is False
    assert out[4].message.retain
    assert len(out) == 5


def test_late_event_is_held_back_and_sent_on_reconnecting_then_counted_as_ended() -> None:
    wearable = SimDevice("w1", "s", "wearable", "pw", "1")
    clocks = {"w1": DeviceClock()}

    def message(stream: str, t: float) -> Delivery:
        body: dict[str, object] = {"spo2": 97, "hr": 70} if stream == "vitals" else {"battery": 80}
        msg = reading_message(wearable, stream, body, seq=1, ts_ms=int(at(t).timestamp() * 1000))  # type: ignore[arg-type]
        return Delivery(t, "w1", msg)

    ward = _Ward(
        [
            message("vitals", 60),
            message("vitals", 200),
            message("status", 300),
            message("vitals", 700),
            message("vitals", 1300),
        ],
        [wearable],
    )
    late = Injection("late_hypoxia", 1, 0, 1200)
    out = list(InjectedSource(ward, [late], start=START, clocks=clocks).emitted())
    spo2 = [json.loads(d.message.payload)["spo2"] for d in out]
    assert [d.offset_s for d in out] == [1200, 1200, 1200, 1300]  # the status is lost
    assert [d.kind for d in out] == ["backfill", "backfill", "backfill", "data"]
    assert spo2 == [97, 84, 97, 97]
    # A page for it is for a condition that had ended before its data arrived, never
    # actionable, and it is not a true event that had to be paged.
    page = PageRow("caregiver", at(1201), (alert("vital.spo2.low", 1, 200),))
    t = tally([page], [late], START, {}, [])
    assert t.ended == 1 and t.clinical_nonactionable == 1
    assert late.history and not actionable(page, [late], START)


def test_events_are_placed_while_the_wearable_is_worn() -> None:
    wearable = SimDevice("w1", "s", "wearable", "pw", "0")

    def event(kind: str, t: float) -> Delivery:
        msg = reading_message(wearable, "event", {"type": kind}, seq=1, ts_ms=1)
        return Delivery(t, "w1", msg)

    off = wearable_off(
        [event("wear_off", 100), event("wear_on", 900), event("wear_off", 5000)], {"w1": 0}
    )
    assert off == {0: [(100, 900), (5000, float("inf"))]}
    # Residents 0-4 have the wearable off every morning until 14:00: theirs go after 14:15.
    busy = {r: [(d * 86400 + 8 * 3600, d * 86400 + 14 * 3600) for d in range(3)] for r in range(5)}
    plan = make_plan(10, 3, seed=2, off=busy)
    for i in plan:
        if i.resident < 5:
            day = i.start_s // 86400
            assert i.start_s >= day * 86400 + 14 * 3600 + 900
