"""Matching raises to labels, and the figures computed from the matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from device_sim.evaluation.metrics import OVERALL, Emitted, evaluate, family_of, percentile
from device_sim.scenarios import Label
from rules.types import Action, AlertCandidate, Severity

T0 = datetime(2024, 3, 4, 1, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def label(
    family: str,
    positive: bool = True,
    *,
    onset: float = 0,
    detectable: float | None = None,
    end: float = 600,
    subject: str = "resident:1",
    min_severity: Severity | None = None,
) -> Label:
    return Label(
        "s",
        subject,
        family,
        positive,
        at(onset),
        at(onset if detectable is None else detectable),
        at(end),
        "test",
        min_severity,
    )


def emitted(
    rule_id: str,
    t: float,
    *,
    action: Action = "raise",
    subject: str = "resident:1",
    severity: Severity = "high",
) -> Emitted:
    c = AlertCandidate(rule_id, action, subject, f"{rule_id}:{subject}", severity, at(t), "x")
    return Emitted(at(t), c, "s")


@pytest.mark.parametrize(
    ("rule_id", "family"),
    [
        ("fall.motion", "fall"),
        ("fall.device", "fall"),
        ("fall.long_lie", "fall"),
        ("vital.spo2.low", "vital.spo2.low"),
        ("device.offline", "device.offline"),
        ("news2", "news2"),
        ("outbreak.fever_cluster", "outbreak.fever_cluster"),
    ],
    ids=lambda x: str(x),
)
def test_family_of(rule_id: str, family: str) -> None:
    assert family_of(rule_id) == family


CASES = [
    # id, labels, emitted, (positives, detected, raises, matched, negatives_alerted), latencies
    ("hit", [label("fall", detectable=0)], [emitted("fall.motion", 30)], (1, 1, 1, 1, 0), [30.0]),
    ("miss", [label("fall")], [], (1, 0, 0, 0, 0), []),
    ("after-window", [label("fall", end=60)], [emitted("fall.motion", 61)], (1, 0, 1, 0, 0), []),
    ("before-onset", [label("fall", onset=100)], [emitted("fall.motion", 99)], (1, 0, 1, 0, 0), []),
    (
        "other-subject",
        [label("fall")],
        [emitted("fall.motion", 5, subject="resident:2")],
        (1, 0, 1, 0, 0),
        [],
    ),
    (
        "two-raises-one-fall",
        [label("fall")],
        [emitted("fall.motion", 30), emitted("fall.long_lie", 300)],
        (1, 1, 2, 2, 0),
        [30.0],
    ),
    (
        "near-fall-alerted",
        [label("fall", positive=False)],
        [emitted("fall.motion", 40)],
        (0, 0, 1, 0, 1),
        [],
    ),
    ("near-fall-quiet", [label("fall", positive=False)], [], (0, 0, 0, 0, 0), []),
    (
        "clear-ignored",
        [label("fall")],
        [emitted("fall.motion", 9, action="clear")],
        (1, 0, 0, 0, 0),
        [],
    ),
    (
        "news2-needs-high",
        [label("news2", detectable=100, min_severity="high")],
        [emitted("news2", 50, severity="medium"), emitted("news2", 130, action="update")],
        (1, 1, 1, 1, 0),
        [30.0],
    ),
    (
        "news2-never-high",
        [label("news2", min_severity="high")],
        [emitted("news2", 50, severity="medium")],
        (1, 0, 1, 1, 0),
        [],
    ),
]


@pytest.mark.parametrize(
    ("labels", "events", "counts", "latencies"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_matching(
    labels: list[Label],
    events: list[Emitted],
    counts: tuple[int, int, int, int, int],
    latencies: list[float],
) -> None:
    report = evaluate(labels, events, resident_days=2.0)
    s = report.families[OVERALL]
    assert (s.positives, s.detected, s.raises, s.matched_raises, s.negatives_alerted) == counts
    assert s.latencies_s == latencies
    assert report.false_per_resident_day() == (s.raises - s.matched_raises) / 2.0


def test_rates_per_family() -> None:
    labels = [label("fall"), label("fall", onset=1000, end=1600), label("vital.spo2.low")]
    events = [emitted("fall.motion", 30), emitted("vital.spo2.low", 20), emitted("sos", 5)]
    report = evaluate(labels, events, resident_days=4.0)
    fall = report.families["fall"]
    assert fall.sensitivity == 0.5 and fall.precision == 1.0
    assert report.families["sos"].precision == 0.0
    assert report.false_per_resident_day("sos") == 0.25
    overall = report.families[OVERALL]
    assert overall.sensitivity == pytest.approx(2 / 3)
    assert overall.precision == pytest.approx(2 / 3)


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0], 95) == 10.0
    assert percentile([0.0, 10.0, 20.0, 30.0], 50) == 15.0
    assert percentile([float(x) for x in range(101)], 95) == 95.0


def test_an_alert_already_open_covers_a_condition_label_but_not_an_event() -> None:
    """NEWS2 already raised (and not cleared) when the data supports the label: detected at
    once. A fall raised earlier does not cover a later fall: each fall is its own page."""
    news2 = label("news2", onset=1000, end=1600)
    early = emitted("news2", 500)
    report = evaluate([news2], [early], resident_days=1.0)
    assert report.families["news2"].detected == 1
    assert report.families["news2"].latencies_s == [0.0]
    cleared = emitted("news2", 800, action="clear")
    assert evaluate([news2], [early, cleared], resident_days=1.0).families["news2"].detected == 0
    fall = label("fall", onset=1000, end=1600)
    assert (
        evaluate([fall], [emitted("fall.motion", 500)], resident_days=1.0).families["fall"].detected
        == 0
    )
