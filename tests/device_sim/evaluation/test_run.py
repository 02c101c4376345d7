"""End to end on tiny scenarios: generated observations through the real rule engine."""

from __future__ import annotations

from typing import Any

from device_sim.evaluation.metrics import OVERALL, evaluate
from device_sim.evaluation.run import replay
from device_sim.scenarios import Scenario, generate, spec_from_dict


def tiny(
    start: str, duration: str, residents: list[dict[str, Any]], events: list[dict[str, Any]]
) -> Scenario:
    return generate(
        spec_from_dict(
            {
                "name": "tiny",
                "seed": 5,
                "start": start,
                "duration": duration,
                "daily_adls": False,
                "residents": residents,
                "events": events,
            }
        )
    )


def raises(candidates: list[Any]) -> set[tuple[str, str]]:
    return {(c.rule_id, c.subject) for c in candidates if c.action == "raise"}


def test_fall_pages_after_the_cancel_window_and_a_near_fall_does_not() -> None:
    sc = tiny(
        "2024-03-04T10:00:00+08:00",
        "12m",
        [{"key": "a", "fall_risk": True}, {"key": "b"}],
        [
            {"at": "2m", "resident": "a", "kind": "fall", "motion": "fall_forward"},
            {"at": "2m", "resident": "b", "kind": "near_fall", "motion": "sit_down_hard"},
        ],
    )
    emitted = replay(sc, tick_s=1.0)
    got = raises([e.candidate for e in emitted])
    assert ("fall.motion", "resident:1") in got
    escalations = [e.candidate for e in emitted if e.candidate.rule_id == "fall.long_lie"]
    assert [c.action for c in escalations] == ["update"]  # the same alert, escalated
    assert not any(subject == "resident:2" for _, subject in got)
    first = next(e for e in emitted if e.candidate.rule_id == "fall.motion")
    fall = next(lab for lab in sc.labels if lab.positive)
    latency = (first.at - fall.detectable_at).total_seconds()
    assert 30 <= latency <= 32  # the cancel window, then the next tick
    report = evaluate(sc.labels, emitted, resident_days=sc.resident_days)
    assert report.families["fall"].sensitivity == 1.0
    assert report.families[OVERALL].precision == 1.0


def test_hypoxia_raises_and_an_artefact_does_not() -> None:
    sc = tiny(
        "2024-03-04T10:00:00+08:00",
        "15m",
        [{"key": "h"}, {"key": "x"}],
        [
            {"at": "3m", "resident": "h", "kind": "hypoxia", "spo2": 84, "hold": "3m"},
            {"at": "4m", "resident": "x", "kind": "spo2_artifact", "spo2": 82, "duration": 10},
        ],
    )
    got = raises([e.candidate for e in replay(sc)])
    assert ("vital.spo2.low", "resident:1") in got
    assert ("vital.spo2.low", "resident:2") not in got
    assert ("news2", "resident:2") not in got


def test_night_bed_exit_without_return_and_a_last_will() -> None:
    sc = tiny(
        "2024-03-04T23:00:00+08:00",
        "25m",
        [{"key": "a", "fall_risk": True}, {"key": "b"}],
        [
            {"at": "2m", "resident": "a", "kind": "bed_exit"},
            {"at": "3m", "resident": "b", "kind": "device_offline", "lwt": True, "duration": "5m"},
        ],
    )
    emitted = replay(sc, tick_s=1.0)
    got = raises([e.candidate for e in emitted])
    assert got >= {("bed.exit_night", "resident:1"), ("device.offline", "resident:2")}
    report = evaluate(sc.labels, emitted, resident_days=sc.resident_days)
    assert report.families["bed.exit_night"].detected == 1
    assert report.families["device.offline"].detected == 1
