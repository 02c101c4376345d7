"""Detection metrics: raised alerts matched to labelled ground truth, per rule family.

Pure. A raise matches a label of the same subject and family when it was emitted within the
label's [onset, window_end]. A positive label is detected by its first matching raise (or an
update at least as severe as the label asks: NEWS2 >= 5 must reach "high"); latency runs from
`detectable_at` to that emission. A label whose family already had an alert open (severe
enough) at `detectable_at` counts as detected with no delay. Raises matching no positive
label are false alerts (those on a negative label, e.g. a near-fall, included).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from device_sim.scenarios import Label
from rules.types import SEVERITY_ORDER, AlertCandidate

OVERALL: Final = "overall"


@dataclass(frozen=True, slots=True)
class Emitted:
    """A candidate and the simulated time the engine emitted it (`candidate.ts` is the data
    time, which for a fall is the impact, before its cancel window)."""

    at: datetime
    candidate: AlertCandidate
    scenario: str = ""


def family_of(rule_id: str) -> str:
    """The rule family a rule id is scored under: every fall rule is "fall"; the rest keep
    their id ("vital.spo2.low", "news2", "device.offline", ...)."""
    if rule_id.startswith("fall."):
        return "fall"
    return rule_id


@dataclass(slots=True)
class FamilyStats:
    family: str
    positives: int = 0
    detected: int = 0
    negatives: int = 0
    negatives_alerted: int = 0
    raises: int = 0
    matched_raises: int = 0
    latencies_s: list[float] = field(default_factory=list)
    # From `Label.first_touch_at` where the label has one (NEWS2 >= 5).
    first_touch_latencies_s: list[float] = field(default_factory=list)
    missed: list[Label] = field(default_factory=list)
    false_alerts: list[Emitted] = field(default_factory=list)

    @property
    def false_raises(self) -> int:
        return self.raises - self.matched_raises

    @property
    def sensitivity(self) -> float | None:
        return self.detected / self.positives if self.positives else None

    @property
    def precision(self) -> float | None:
        return self.matched_raises / self.raises if self.raises else None

    def latency(self, q: float) -> float | None:
        return percentile(self.latencies_s, q)


@dataclass(frozen=True, slots=True)
class Report:
    families: dict[str, FamilyStats]  # by family, plus OVERALL
    resident_days: float

    def false_per_resident_day(self, family: str = OVERALL) -> float | None:
        if self.resident_days <= 0:
            return None
        return self.families[family].false_raises / self.resident_days


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _within(label: Label, at: datetime) -> bool:
    return label.onset <= at <= label.window_end


def _severe_enough(candidate: AlertCandidate, label: Label) -> bool:
    return (
        label.min_severity is None
        or SEVERITY_ORDER[candidate.severity] >= SEVERITY_ORDER[label.min_severity]
    )


# Families whose alerts are events (staff resolve them; the rule never clears them): an
# earlier one does not cover a later event.
EVENT_FAMILIES: Final = frozenset({"fall", "sos"})


def _track_open(spans: list[list[Any]], e: Emitted) -> None:
    c = e.candidate
    current = spans[-1] if spans and spans[-1][1] is None else None
    if c.action == "clear":
        if current is not None:
            current[1] = e.at
    elif current is None:
        spans.append([e.at, None, c])
    elif SEVERITY_ORDER[c.severity] > SEVERITY_ORDER[current[2].severity]:
        current[2] = c


def _covers(span: list[Any], label: Label) -> bool:
    opened, cleared, worst = span
    return (
        opened <= label.detectable_at
        and (cleared is None or label.detectable_at <= cleared)
        and _severe_enough(worst, label)
    )


def evaluate(
    labels: Iterable[Label], emitted: Iterable[Emitted], *, resident_days: float
) -> Report:
    """Match, count and summarise. Labels and emissions from several scenarios may be mixed:
    they are matched within their own scenario (`Label.scenario` == `Emitted.scenario`)."""
    labels = list(labels)
    emitted = sorted(emitted, key=lambda e: e.at)
    index: dict[tuple[str, str, str], list[Label]] = {}
    for label in labels:
        index.setdefault((label.scenario, label.subject, label.family), []).append(label)
    stats: dict[str, FamilyStats] = {}

    def get(family: str) -> FamilyStats:
        return stats.setdefault(family, FamilyStats(family))

    for label in labels:
        s = get(label.family)
        if label.positive:
            s.positives += 1
        else:
            s.negatives += 1

    detected: set[int] = set()
    alerted_negatives: set[int] = set()
    # Alerts open per (scenario, subject, family): [opened, cleared or None, worst candidate].
    spans: dict[tuple[str, str, str], list[list[Any]]] = {}
    for e in emitted:
        c = e.candidate
        key = (e.scenario, c.subject, family_of(c.rule_id))
        _track_open(spans.setdefault(key, []), e)
        if c.action not in ("raise", "update"):
            continue
        family = family_of(c.rule_id)
        candidates = [
            lab for lab in index.get((e.scenario, c.subject, family), []) if _within(lab, e.at)
        ]
        positives = [lab for lab in candidates if lab.positive]
        for lab in positives:
            if id(lab) not in detected and _severe_enough(c, lab):
                detected.add(id(lab))
                s = get(family)
                s.latencies_s.append((e.at - lab.detectable_at).total_seconds())
                if lab.first_touch_at is not None:
                    s.first_touch_latencies_s.append((e.at - lab.first_touch_at).total_seconds())
        if c.action != "raise":
            continue
        s = get(family)
        s.raises += 1
        if positives:
            s.matched_raises += 1
            continue
        s.false_alerts.append(e)
        for lab in candidates:
            if id(lab) not in alerted_negatives:
                alerted_negatives.add(id(lab))
                s.negatives_alerted += 1

    for label in labels:
        if label.positive and id(label) not in detected and _told_already(label, spans):
            detected.add(id(label))
            get(label.family).latencies_s.append(0.0)
    for label in labels:
        if label.positive:
            s = get(label.family)
            if id(label) in detected:
                s.detected += 1
            else:
                s.missed.append(label)

    families = dict(sorted(stats.items()))
    families[OVERALL] = _overall(stats.values())
    return Report(families, resident_days)


def _told_already(label: Label, spans: dict[tuple[str, str, str], list[list[Any]]]) -> bool:
    """An alert of the label's family was already open (and severe enough) when the data came
    to support it: the caregivers were already told, with no delay. Never for an event family:
    every fall or SOS is its own page."""
    if label.family in EVENT_FAMILIES:
        return False
    key = (label.scenario, label.subject, label.family)
    return any(_covers(span, label) for span in spans.get(key, []))


def _overall(families: Iterable[FamilyStats]) -> FamilyStats:
    """Every family's counts and latencies summed."""
    overall = FamilyStats(OVERALL)
    for s in families:
        overall.positives += s.positives
        overall.detected += s.detected
        overall.negatives += s.negatives
        overall.negatives_alerted += s.negatives_alerted
        overall.raises += s.raises
        overall.matched_raises += s.matched_raises
        overall.latencies_s += s.latencies_s
        overall.first_touch_latencies_s += s.first_touch_latencies_s
        overall.missed += s.missed
        overall.false_alerts += s.false_alerts
    return overall
