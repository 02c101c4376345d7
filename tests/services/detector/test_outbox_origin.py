"""A candidate's identity is the input it was computed from (issue 12, item 1): pure parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rules.types import Action, AlertCandidate, DeviceEvent, DeviceStatus, Motion, Vital
from services.careteam.policy import AlertsConfig
from services.detector.outbox import input_key, with_origin

TS = datetime(2026, 3, 1, 12, tzinfo=UTC)


def news2(total: int, action: Action = "update", ts: datetime = TS) -> AlertCandidate:
    return AlertCandidate(
        "news2", action, "resident:1", "news2:resident:1", "medium", ts, f"NEWS2 {total}"
    )


def test_each_reading_has_its_own_key_and_a_repeat_the_same() -> None:
    hr = Vital(TS, "hr", 95, "vitals", "w1")
    keys = {
        input_key(hr),
        input_key(Vital(TS, "rr", 22, "vitals", "w1")),  # same message, other metric
        input_key(Vital(TS + timedelta(seconds=1), "hr", 96, "vitals", "w1")),
        input_key(Vital(TS, "hr", 95, "vitals", "w2")),
        input_key(Motion(TS, "w1", 50, (0.0,), (0.0,), (1.0,))),
        input_key(DeviceEvent(TS, "w1", "fall")),
        input_key(DeviceEvent(TS, "w1", "sos")),
        input_key(DeviceStatus(TS, "w1", battery=50)),
    }
    assert len(keys) == 8
    assert input_key(Vital(TS, "hr", 95, "vitals", "w1")) == input_key(hr)


def test_candidates_of_one_input_are_numbered_per_key_and_action() -> None:
    out = with_origin([news2(4), news2(5), news2(5, "raise")], "manual:7")
    assert [c.origin for c in out] == ["manual:7#0", "manual:7#1", "manual:7#0"]
    assert [c.title for c in out] == ["NEWS2 4", "NEWS2 5", "NEWS2 5"]


def test_updates_sharing_a_ts_from_different_inputs_differ_and_a_replay_does_not() -> None:
    first = with_origin([news2(4)], "manual:1") + with_origin([news2(8)], "manual:2")
    assert first[0].ts == first[1].ts and first[0].origin != first[1].origin
    replay = with_origin([news2(4)], "manual:1")
    assert replay[0].origin == first[0].origin


def test_time_passing_keys_by_the_data_time_the_condition_was_established() -> None:
    [a] = with_origin([news2(3, "raise")], None)
    [b] = with_origin([news2(3, "raise", TS + timedelta(seconds=1))], None)
    assert a.origin == f"at:{TS.isoformat()}#0" and a.origin != b.origin


def test_a_live_tick_is_not_late_whatever_time_its_condition_is_stamped_with() -> None:
    # A long lie raised by a live tick carries its impact time, five minutes back: lateness is
    # the lag of the tick's stream time, not the age of the condition.
    impact = datetime(2026, 3, 1, 12, tzinfo=UTC)
    long_lie = AlertCandidate(
        "fall.long_lie", "update", "resident:1", "fall:resident:1", "critical", impact, "t"
    )
    late = AlertsConfig().late
    [live] = with_origin([long_lie], None, timedelta(seconds=0.2))
    assert live.arrived_at == impact + timedelta(seconds=0.2) and not late.is_late(live)
    # The same from a backlog the stream took in ten minutes behind: late.
    [behind] = with_origin([long_lie], None, timedelta(minutes=10))
    assert late.is_late(behind)
