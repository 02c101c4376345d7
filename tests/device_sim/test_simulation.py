"""A seeded day of a 10-resident ward, simulated in-process with no broker and every device
behaviour on: the same messages twice, byte for byte; ingest accepts every message but the
malformed ones and rejects each of those for the reason its label gives; and every label
matches what the message stream shows. Once for the live ward (`carewatch sim`), once for a
scenario file (`carewatch sim --scenario`) with one event of each kind."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from device_sim.devices import synthetic_ward
from device_sim.faults import Faults
from device_sim.malformed import EXPECTED_REASON, MALFORMED_KINDS, MalformedKind
from device_sim.physiology import DEFAULT_TZ
from device_sim.scenarios import load_spec
from device_sim.simulation import build
from device_sim.ward import WardOptions
from ingest.codec import Limits
from ingest.pipeline import Inbound, classify
from ingest.writer import DeadLetter
from tests.device_sim.streams import Run, at, body, ms, readable, run, true_ms

START = datetime(2025, 3, 10, tzinfo=DEFAULT_TZ)
DAY = 86400.0
RATE_HZ = 1 / 30  # the default is 1 Hz: a coarser cadence keeps this day to seconds
WARD = WardOptions(fever_rate=0.3)
FAULTS = Faults(
    wifi_drops_per_day=4.0,
    clock_drift_ppm=50.0,
    duplicate_rate=0.01,
    reorder_rate=0.01,
    malformed_rate=0.01,
)
SPEC = load_spec(Path(__file__).parent / "data" / "day-ward.yaml")
# What the worker decodes with: the default retention (365 days) bounds `ts` (`ancient_ts`).
WORKER_LIMITS = Limits(max_age=timedelta(days=365))
SCENARIO_FAULTS = Faults(duplicate_rate=0.01, reorder_rate=0.01, malformed_rate=0.01)


def ward_day() -> Run:
    sim = build(
        synthetic_ward(10),
        seed=11,
        start=START,
        duration_s=DAY,
        rate_hz=RATE_HZ,
        ward=WARD,
        faults=FAULTS,
    )
    return run(sim)


def scenario_day() -> Run:
    sim = build(
        synthetic_ward(10), seed=SPEC.seed, start=SPEC.start, scenario=SPEC, faults=SCENARIO_FAULTS
    )
    return run(sim)


@pytest.fixture(scope="module")
def ward() -> Run:
    return ward_day()


@pytest.fixture(scope="module")
def scenario() -> Run:
    return scenario_day()


# --- determinism ------------------------------------------------------------------------


def test_a_seeded_day_of_ten_residents_is_the_same_twice(ward: Run) -> None:
    again = ward_day()
    assert len(again.deliveries) == len(ward.deliveries) > 80_000
    assert again.digest == ward.digest
    assert again.labels == ward.labels
    kinds = Counter(d.kind for d in ward.deliveries)
    assert set(kinds) == {"data", "backfill", "duplicate", "late", "malformed"}
    streams = Counter(d.message.stream for d in ward.deliveries)
    assert set(streams) == {"vitals", "bed", "status", "motion", "event"}


def test_a_scenario_day_of_ten_residents_is_the_same_twice(scenario: Run) -> None:
    again = scenario_day()
    assert len(again.deliveries) == len(scenario.deliveries) > 30_000
    assert again.digest == scenario.digest
    assert again.labels == scenario.labels


# --- what ingest makes of it --------------------------------------------------------------


@pytest.mark.parametrize("which", ["ward", "scenario"])
def test_ingest_rejects_exactly_the_malformed_messages_for_their_labelled_reasons(
    which: str, request: pytest.FixtureRequest
) -> None:
    r: Run = request.getfixturevalue(which)
    sites = {d.device_id: d.site_id for d in synthetic_ward(10)}
    rejected: Counter[tuple[str, str, str]] = Counter()
    for d in r.deliveries:
        # Received when sent; the clock drift stays far inside ingest's 5 minutes of slack.
        received = r.start + timedelta(seconds=d.offset_s + 0.5)
        inbound = Inbound(d.message.topic, d.message.payload, received)
        result = classify(inbound, sites.get, WORKER_LIMITS)
        if d.kind == "malformed":
            assert isinstance(result, DeadLetter), d
            assert result.reason == EXPECTED_REASON[cast(MalformedKind, d.detail)], d.detail
            assert result.device_id == d.device_id
            rejected[(d.device_id, d.message.topic, result.reason)] += 1
        else:
            assert not isinstance(result, DeadLetter), (d, result)
    labelled = Counter(
        (lab["device"], lab["topic"], lab["reason"]) for lab in r.labelled("fault", "malformed")
    )
    assert rejected == labelled
    if which == "ward":
        # A day at 1 % is enough for every kind the simulator makes.
        kinds = {d.detail for d in r.deliveries if d.kind == "malformed"}
        assert kinds == set(MALFORMED_KINDS)


# --- device behaviours against their labels ----------------------------------------------


def test_wifi_drops_silence_the_device_then_send_the_backlog_in_order(ward: Run) -> None:
    drops = ward.labelled("fault", "wifi_drop")
    assert len(drops) >= 20
    assert ward.lost == sum(d["lost"] for d in drops) == 0
    backfilled = backfill_kind = 0
    for drop in drops:
        sent = ward.device(drop["device"])
        start = ward.offset(at(drop["start"]))
        if drop["reconnected_at"] is None:
            assert all(d.offset_s < start for d in sent)
            continue
        back = ward.offset(at(drop["reconnected_at"]))
        assert back >= ward.offset(at(drop["end"]))
        # Labels carry milliseconds: the reconnection is the delivery within one of them.
        assert not [d for d in sent if start < d.offset_s < back - 0.001]
        on_reconnect = [d for d in sent if abs(d.offset_s - back) < 0.001][: drop["backfilled"]]
        # Nothing to send back if all it produced meanwhile was held back (out of order).
        assert len(on_reconnect) == drop["backfilled"]
        if not on_reconnect:
            continue
        backfilled += len(on_reconnect)
        backfill_kind += sum(1 for d in on_reconnect if d.kind == "backfill")
        # The latest status first (only the latest: housekeeping is not backfilled), then
        # the readings in the order produced, each with the time it was measured at.
        if on_reconnect[0].message.stream == "status":
            on_reconnect = on_reconnect[1:]
        assert all(d.message.stream != "status" for d in on_reconnect)
        seqs = [body(d)["seq"] for d in on_reconnect if d.kind == "backfill"]
        assert seqs == sorted(seqs)
        drift = 20_000  # ms: the most a clock drifts in a day at this setting, with room
        for d in on_reconnect:
            if d.kind == "backfill":
                ts = body(d)["ts"]
                assert ms(at(drop["start"])) - drift <= ts <= ms(at(drop["reconnected_at"])) + drift
    assert backfilled == sum(d["backfilled"] for d in drops)
    # Held readings and statuses go as `backfill`; held duplicates, late and malformed
    # messages keep their own kind.
    assert backfill_kind == sum(1 for d in ward.deliveries if d.kind == "backfill")


def test_duplicates_repeat_a_message_byte_for_byte(ward: Run) -> None:
    labels = ward.labelled("fault", "duplicate")
    dups = [d for d in ward.deliveries if d.kind == "duplicate"]
    assert len(dups) == len(labels) > 500
    first: dict[tuple[str, int], bytes] = {}
    for d in ward.deliveries:
        if d.kind in ("data", "backfill", "late"):
            first.setdefault((d.device_id, body(d)["seq"]), d.message.payload)
    labelled = Counter((lab["device"], lab["seq"]) for lab in labels)
    assert Counter((d.device_id, body(d)["seq"]) for d in dups) == labelled
    for d in dups:
        assert first[(d.device_id, body(d)["seq"])] == d.message.payload
        assert d.message.stream != "status"


def test_late_messages_are_overtaken_by_later_ones(ward: Run) -> None:
    labels = ward.labelled("fault", "out_of_order")
    late = [d for d in ward.deliveries if d.kind == "late"]
    assert len(late) == len(labels) > 500
    assert Counter((d.device_id, body(d)["seq"]) for d in late) == Counter(
        (lab["device"], lab["seq"]) for lab in labels
    )
    for device_id, sent in ward.by_device().items():
        highest = -1
        # Held back in the device's last moments, a message goes when the run ends, with
        # nothing left to overtake it.
        last_data = max(i for i, d in enumerate(sent) if d.kind in ("data", "backfill"))
        for i, d in enumerate(sent):
            if not readable(d):
                continue
            seq = body(d)["seq"]
            if d.kind == "late" and i < last_data:
                assert seq < highest, (device_id, seq)  # a later message went first
            elif d.kind in ("data", "backfill"):
                highest = max(highest, seq)


def test_each_device_clock_drifts_as_labelled(ward: Run) -> None:
    drifts = {lab["device"]: lab["ppm"] * 1e-6 for lab in ward.labelled("fault", "clock_drift")}
    assert set(drifts) == {d.device_id for d in synthetic_ward(10)}
    assert len({round(s, 9) for s in drifts.values()}) == len(drifts)  # each its own
    for device_id, sent in ward.by_device().items():
        # Readings and statuses are produced when sent, unless held back: `at` is true time.
        produced = [
            d for d in sent if d.kind == "data" and d.message.stream in ("vitals", "bed", "status")
        ]
        for d in (produced[0], produced[len(produced) // 2], produced[-1]):
            expected = ms(ward.start) + round(d.offset_s * 1000 * (1 + drifts[device_id]))
            assert abs(body(d)["ts"] - expected) <= 2


# --- the ward's routine against its labels -----------------------------------------------


def _skews(r: Run) -> dict[str, float]:
    return defaultdict(
        float, {lab["device"]: lab["ppm"] * 1e-6 for lab in r.labelled("fault", "clock_drift")}
    )


def _true_times(r: Run, device_id: str, stream: str) -> list[tuple[float, dict[str, Any]]]:
    skew = _skews(r)[device_id]
    seen: dict[int, tuple[float, dict[str, Any]]] = {}
    for d in r.device(device_id):
        if readable(d) and d.message.stream == stream:
            b = body(d)
            # Whole ms, as stamped; a duplicate counts once.
            seen[b["seq"]] = (round(true_ms(b["ts"], r.start, skew)), b)
    return sorted(seen.values(), key=lambda x: x[0])


def test_off_the_wearer_for_the_wash_and_on_the_charger(ward: Run) -> None:
    washes = ward.labelled("event", "wash")
    charging = ward.labelled("event", "charging")
    assert len(washes) == 10 and charging  # a morning wash each; some batteries ran low
    off: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for lab in washes + charging:
        for device_id in lab["devices"]:
            end = math.inf if lab["end"] is None else ms(at(lab["end"]))
            off[device_id].append((ms(at(lab["start"])), end))
    for device_id, spans in off.items():
        assert device_id.startswith("demo-w")
        merged: list[tuple[float, float]] = []
        for lo, hi in sorted(spans):
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        events = [(b["type"], t) for t, b in _true_times(ward, device_id, "event")]
        expected = []
        for lo, hi in merged:
            expected.append(("wear_off", lo))
            if hi != math.inf and hi < ms(ward.start + timedelta(seconds=DAY)):
                expected.append(("wear_on", hi))
        assert [k for k, _ in events] == [k for k, _ in expected], device_id
        # Wash ends exactly; charging ends at the status (once a minute) that finds it full.
        for (_, got), (_, want) in zip(events, expected, strict=True):
            assert abs(got - want) <= 2, device_id
        for t, _ in _true_times(ward, device_id, "vitals"):
            assert not any(lo < t < hi for lo, hi in merged), (device_id, t)


def test_activities_are_seen_as_motion_windows_and_only_they(ward: Run) -> None:
    activities = ward.labelled("event", "activity")
    seen = [lab for lab in activities if lab["seen"]]
    assert len(seen) >= 50
    end_ms = ms(ward.start + timedelta(seconds=DAY))
    windows: dict[str, list[float]] = {
        w.device_id: [t for t, _ in _true_times(ward, w.device_id, "motion")]
        for w in synthetic_ward(10)
        if w.kind == "wearable"
    }
    claimed = 0
    for lab in seen:
        (device_id,) = lab["devices"]
        lo, hi = ms(at(lab["start"])), ms(at(lab["end"]))
        inside = [t for t in windows[device_id] if lo - 2 <= t < hi]
        if hi < end_ms - 60_000:
            # 2 s windows at 50 Hz, the last one shorter.
            assert len(inside) == math.ceil(round((hi - lo) / 20) / 100), lab
        claimed += len(inside)
    assert claimed == sum(len(ts) for ts in windows.values())
    for lab in activities:
        if not lab["seen"]:
            assert lab["devices"] == []


def test_fevers_show_in_the_temperature(ward: Run) -> None:
    fevers = ward.labelled("event", "fever")
    assert fevers
    day = (ms(ward.start), ms(ward.start + timedelta(seconds=DAY)))
    checked = 0
    for lab in fevers:
        assert at(lab["end"]) > ward.start  # begun before the run, perhaps, but not over
        wearable = next(d for d in lab["devices"] if d.startswith("demo-w"))
        lo = max(ms(at(lab["peak_from"])), day[0])
        hi = min(ms(at(lab["peak_until"])), day[1])
        if hi - lo < 3_600_000:
            continue  # the peak is mostly outside the day
        temps = [b["temp"] for t, b in _true_times(ward, wearable, "vitals") if lo <= t < hi]
        assert len(temps) > 60
        assert sum(temps) / len(temps) >= 37.3  # 36.3-36.9 of their own, plus 1.2-2.5
        checked += 1
    assert checked


def test_labels_name_the_ward_devices_and_fall_inside_the_day(ward: Run) -> None:
    ids = {d.device_id for d in synthetic_ward(10)}
    for lab in ward.labels:
        for device_id in [*lab.get("devices", []), lab.get("device")]:
            assert device_id is None or device_id in ids
        if "start" in lab and lab["kind"] != "fever":  # a fever may have begun before
            assert ward.start <= at(lab["start"]) < ward.start + timedelta(seconds=DAY)


# --- the scenario's events against the stream --------------------------------------------


def test_every_scripted_event_is_labelled_where_and_when_it_happens(scenario: Run) -> None:
    events = scenario.labelled("event")
    ward_key = {f"{chr(ord('a') + i)}": f"r{i + 1}" for i in range(10)}
    assert sorted((e["kind"], e["scenario_resident"], at(e["start"])) for e in events) == sorted(
        (e.kind, e.resident, SPEC.start + timedelta(seconds=e.at_s)) for e in SPEC.events
    )
    for e in events:
        assert e["resident"] == ward_key[e["scenario_resident"]]
        index = int(e["resident"][1:]) - 1
        assert e["devices"] == [f"demo-w{index:03d}", f"demo-b{index:03d}"]
    truths = scenario.labelled("truth")
    positive = {(t["kind"], t["family"]) for t in truths if t["positive"]}
    assert {
        ("fall", "fall"),
        ("fever", "fever"),
        ("hypoxia", "vital.spo2.low"),
        ("bed_exit", "bed.exit_night"),
        ("wear_off", "device.wear_off"),
        ("device_offline", "device.offline"),
        ("battery_death", "device.battery_low"),
        ("sos", "sos"),
        ("deterioration", "news2"),
    } <= positive
    negative = {(t["kind"], t["family"]) for t in truths if not t["positive"]}
    # Wandering off in daytime is allowed; an artefact and a near-fall must not page.
    assert {
        ("near_fall", "fall"),
        ("spo2_artifact", "vital.spo2.low"),
        ("zone_exit", "wandering"),
    } <= negative
    for t in truths:
        if t["subject"].startswith("resident:"):
            assert t["resident"] == f"r{t['subject'].split(':')[1]}"


def _scripted(kind: str) -> tuple[datetime, str, str, dict[str, Any]]:
    e = next(e for e in SPEC.events if e.kind == kind)
    index = ord(e.resident) - ord("a")
    return (
        SPEC.start + timedelta(seconds=e.at_s),
        f"demo-w{index:03d}",
        f"demo-b{index:03d}",
        dict(e.params),
    )


def _stream(r: Run, device_id: str, stream: str) -> list[tuple[datetime, dict[str, Any]]]:
    return [
        (datetime.fromtimestamp(ts / 1000, DEFAULT_TZ), b)
        for ts, b in _true_times(r, device_id, stream)
    ]


def test_falls_and_near_falls_are_in_the_accelerometer_stream(scenario: Run) -> None:
    when, wearable, _, _ = _scripted("fall")
    near = [
        b for t, b in _stream(scenario, wearable, "motion") if abs(t - when).total_seconds() < 30
    ]
    peak = max(max(abs(a) for a in b["ay"] + b["ax"] + b["az"]) for b in near)
    assert peak > 2.0  # g: the impact
    falls = [t for t, b in _stream(scenario, wearable, "event") if b["type"] == "fall"]
    assert len(falls) == 1 and timedelta(0) < falls[0] - when < timedelta(minutes=2)
    when, wearable, _, _ = _scripted("near_fall")
    assert [
        t for t, _ in _stream(scenario, wearable, "motion") if abs(t - when).total_seconds() < 30
    ]
    assert not [b for _, b in _stream(scenario, wearable, "event") if b["type"] == "fall"]


def test_vital_sign_events_are_in_the_readings(scenario: Run) -> None:
    when, wearable, _, _ = _scripted("fever")
    hold = (when + timedelta(hours=2), when + timedelta(hours=8))
    temps = [
        b["temp"]
        for t, b in _stream(scenario, wearable, "vitals")
        if hold[0] <= t < hold[1] and "temp" in b
    ]
    assert temps and min(temps) >= 37.8
    when, wearable, _, _ = _scripted("hypoxia")
    hold = (when + timedelta(minutes=2), when + timedelta(minutes=10))
    spo2 = [b["spo2"] for t, b in _stream(scenario, wearable, "vitals") if hold[0] <= t < hold[1]]
    assert spo2 and max(spo2) <= 88
    when, wearable, _, _ = _scripted("spo2_artifact")
    dip = [
        b["spo2"]
        for t, b in _stream(scenario, wearable, "vitals")
        if when <= t < when + timedelta(seconds=10)
    ]
    assert dip == [82] * len(dip) and dip
    assert [
        t for t, _ in _stream(scenario, wearable, "motion") if abs(t - when).total_seconds() < 10
    ]
    when, wearable, _, _ = _scripted("deterioration")
    before = [
        b["hr"]
        for t, b in _stream(scenario, wearable, "vitals")
        if when - timedelta(hours=1) <= t < when
    ]
    after = [
        b["hr"]
        for t, b in _stream(scenario, wearable, "vitals")
        if when + timedelta(hours=3) <= t < when + timedelta(hours=4)
    ]
    assert sum(after) / len(after) - sum(before) / len(before) > 20


def test_device_and_bed_events_are_in_the_stream(scenario: Run) -> None:
    when, wearable, bed, _ = _scripted("wear_off")
    events = [(b["type"], t) for t, b in _stream(scenario, wearable, "event")]
    assert events == [("wear_off", when), ("wear_on", when + timedelta(minutes=30))]
    assert not [
        t
        for t, _ in _stream(scenario, wearable, "vitals")
        if when < t < when + timedelta(minutes=30)
    ]

    when, wearable, bed, _ = _scripted("device_offline")
    # The last will as the scenario has it: a retained status, online false, at the drop.
    wills = [b for t, b in _stream(scenario, wearable, "status") if t == when]
    assert [set(b) for b in wills] == [{"ts", "seq", "online"}] and not wills[0]["online"]
    silent = [
        t
        for s in ("vitals", "motion", "event", "status")
        for t, _ in _stream(scenario, wearable, s)
    ]
    assert not [t for t in silent if when < t < when + timedelta(minutes=20)]

    when, wearable, bed, _ = _scripted("battery_death")
    levels = [(t, b["battery"]) for t, b in _stream(scenario, wearable, "status") if t >= when]
    # Statuses every 10 minutes: the last one before it dies shows a few percent.
    assert levels[0][1] <= 22 and min(b for _, b in levels) <= 3
    dead = when + timedelta(hours=2)
    assert not [
        t for s in ("vitals", "status") for t, _ in _stream(scenario, wearable, s) if t > dead
    ]

    when, wearable, bed, _ = _scripted("sos")
    assert [t for t, b in _stream(scenario, wearable, "event") if b["type"] == "sos"] == [when]

    when, wearable, bed, _ = _scripted("zone_exit")
    zones = [(b["type"], b.get("zone"), t) for t, b in _stream(scenario, wearable, "event")]
    assert zones == [
        ("zone_exit", "garden", when),
        ("zone_enter", "garden", when + timedelta(minutes=15)),
    ]

    when, wearable, bed, _ = _scripted("bed_exit")
    occupied = [(t, b["occupied"]) for t, b in _stream(scenario, bed, "bed")]
    away = [o for t, o in occupied if when <= t < when + timedelta(minutes=40)]
    assert away and not any(away)
    back = [
        o for t, o in occupied if when + timedelta(minutes=40) <= t < when + timedelta(minutes=60)
    ]
    assert back and all(back)
