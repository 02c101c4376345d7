"""The ground truth of a scenario: what a rule family must (or must not) raise, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rules.types import Severity


@dataclass(frozen=True, slots=True)
class Label:
    """What a rule family must (positive) or must not (negative) raise for `subject` within
    [onset, window_end]. `detectable_at`: when the emitted data first support detection
    (latency is measured from it). `min_severity`: a positive counts as detected only by a
    raise or update at least this severe (NEWS2 >= 5 is "high")."""

    scenario: str
    subject: str
    family: str
    positive: bool
    onset: datetime
    detectable_at: datetime
    window_end: datetime
    kind: str  # the event kind it comes from
    min_severity: Severity | None = None
    note: str = ""
    # NEWS2 >= 5 only: the first instant the score reached 5. A slowly rising, noisy score
    # crosses 5 and falls back several times before it holds; `detectable_at` is the start of
    # the first run that lasts the rule's persistence (the same standard as thresholds).
    first_touch_at: datetime | None = None
