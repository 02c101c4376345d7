"""The NEWS2 score of a resident at a time: from the freshest value of each parameter, with
what is missing, out of date or due."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from rules.news2.chart import (
    LEVELS,
    PARAMETERS,
    Band,
    GapReason,
    ObservationStatus,
    Parameter,
    RiskLevel,
    Scale,
    charted_value,
    clinical_band,
    risk_level,
    sub_score,
)
from rules.news2.config import News2Config
from rules.types import Vital


@dataclass(frozen=True, slots=True)
class SubScore:
    """One parameter's chart score and what it was computed from. `charted` is the value as
    banded (after rounding). `reading` is None only in referral snapshots stored before oxygen
    stopped being assumed."""

    parameter: Parameter
    score: int
    charted: Decimal
    reading: Vital | None


@dataclass(frozen=True, slots=True)
class Gap:
    """Why a parameter did not count: no reading, too old (`age_s` > window), or unscorable."""

    parameter: Parameter
    reason: GapReason
    reading: Vital | None = None
    age_s: float | None = None


@dataclass(frozen=True, slots=True)
class ObservationsDue:
    """When the next observations are due (RCP 2017 minimum frequency for `level`, the level of
    the score with every value counted over its `max_age_s`). "overdue": a parameter is missing,
    or a manual value no longer counts; "due": a manual value is within its last
    `observation_grace_s`. Parameters kept current by a device are never due."""

    level: RiskLevel
    every_s: float
    status: ObservationStatus
    due_at: datetime | None  # the earliest counting manual value falls due (None: none counts)
    parameters: tuple[Parameter, ...]  # due or overdue now, chart order


@dataclass(frozen=True, slots=True)
class News2Result:
    """A NEWS2 computation at `at`. When any parameter is missing, stale or invalid, the score
    is incomplete: `total` and `band` are None and `partial_total` is NOT a NEWS2 score, only
    the sum over the parameters present (a lower bound of the true score).

    `proven_band` is the band the evidence already proves (the band itself when complete;
    None when it proves nothing above low), and `proven_total` the total it rests on: a lower
    bound from every value within its `max_age_s`, overdue rounds included (old evidence of
    risk is kept; only vouching for improvement needs a current round). An incomplete score
    is never shown as harmless when it is not."""

    at: datetime
    scale: Scale
    complete: bool
    total: int | None
    band: Band | None
    partial_total: int
    sub_scores: tuple[SubScore, ...]  # chart order, the parameters that counted
    missing: tuple[Parameter, ...]  # chart order; details in `gaps`
    gaps: tuple[Gap, ...]
    assumptions: tuple[str, ...]
    proven_band: Band | None = None
    proven_total: int = 0
    observations: ObservationsDue | None = None

    def sub_score(self, parameter: Parameter) -> SubScore | None:
        return next((s for s in self.sub_scores if s.parameter == parameter), None)


def _require_aware(name: str, ts: datetime) -> None:
    if ts.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {ts!r}")


Limit = Callable[[Parameter, Vital], float]


def _fresh(
    parameter: Parameter, latest: Mapping[str, Vital], now: datetime, limit: Limit
) -> Vital | Gap:
    reading = latest.get(parameter)
    if reading is None:
        return Gap(parameter, "absent")
    _require_aware(f"{parameter} reading ts", reading.ts)
    # A reading from slightly in the future (device clock ahead) is fresh: ingest owns skew.
    age_s = (now - reading.ts).total_seconds()
    if age_s > limit(parameter, reading):
        return Gap(parameter, "stale", reading, age_s)
    return reading


def compute_news2(
    latest: Mapping[str, Vital],
    *,
    scale: Scale,
    now: datetime,
    config: News2Config,
    level_at_least: RiskLevel | None = None,
) -> News2Result:
    """NEWS2 from the freshest reading of each parameter (`latest`, keyed by metric name).

    Any parameter unknown (absent, stale or invalid) makes the result incomplete: ACVPU is
    never assumed Alert, nor oxygen assumed air. A manual value counts for as long as the
    observation interval of the current risk level allows (`observe_every_s` plus the grace,
    at most its `max_age_s`); the level is that of the score with every value counted over its
    `max_age_s`, so it does not depend on itself, or `level_at_least` (an open alert's band:
    standing down from hourly observations takes a current round). Device values count over
    `max_age_s`."""
    _require_aware("now", now)
    windows = config.max_age_s
    base = _score(latest, scale, now, lambda p, _: windows.for_parameter(p))
    top = max((s.score for s in base.sub_scores), default=0)
    level = risk_level(base.total if base.total is not None else base.partial_total, top)
    if level_at_least is not None and LEVELS.index(level_at_least) > LEVELS.index(level):
        level = level_at_least
    every_s = config.observe_every_s.for_level(level)
    grace_s = config.observation_grace_s

    def limit(parameter: Parameter, reading: Vital) -> float:
        window = windows.for_parameter(parameter)
        return min(window, every_s + grace_s) if reading.source == "manual" else window

    manual = any(r.source == "manual" for p, r in latest.items() if p in PARAMETERS)
    result = _score(latest, scale, now, limit) if manual else base
    due = _observations(result, latest, level, every_s, grace_s, limit)
    # The base counts a superset of the readings (a round overdue for this risk still counts
    # there), and missing parameters only add points: its sum is the lower bound to prove on.
    proven_total = base.total if base.total is not None else base.partial_total
    proven = clinical_band(proven_total, top)
    return replace(
        result,
        proven_band=result.band or (None if proven == "low" else proven),
        proven_total=result.total if result.total is not None else proven_total,
        observations=due,
    )


def _score(latest: Mapping[str, Vital], scale: Scale, now: datetime, limit: Limit) -> News2Result:
    readings: dict[Parameter, Vital] = {}
    gaps: list[Gap] = []
    for parameter in PARAMETERS:
        found = _fresh(parameter, latest, now, limit)
        if isinstance(found, Gap):
            gaps.append(found)
        else:
            readings[parameter] = found

    # Oxygen unknown is missing data (the score is incomplete). SpO2 on scale 2 is then scored
    # as on air: on air never scores more than on oxygen, so the partial total stays a lower
    # bound; it is said.
    oxygen = readings.get("on_o2")
    on_oxygen = oxygen is not None and oxygen.value == 1
    known = oxygen is not None and oxygen.value in (0, 1)
    assumptions: list[str] = []
    if scale == 2 and not known and "spo2" in readings:
        assumptions.append("on_o2 unknown: SpO2 (scale 2) scored as on air, a lower bound")

    scores: list[SubScore] = []
    for parameter in PARAMETERS:
        reading = readings.get(parameter)
        if reading is None:
            continue
        try:
            score = sub_score(parameter, reading.value, scale=scale, on_oxygen=on_oxygen)
            charted = (
                Decimal(int(reading.value))
                if parameter in ("on_o2", "acvpu")
                else charted_value(parameter, reading.value)
            )
        except ValueError:
            gaps.append(Gap(parameter, "invalid", reading))
            continue
        scores.append(SubScore(parameter, score, charted, reading))

    gaps.sort(key=lambda g: PARAMETERS.index(g.parameter))
    partial = sum(s.score for s in scores)
    complete = not gaps
    return News2Result(
        at=now,
        scale=scale,
        complete=complete,
        total=partial if complete else None,
        band=clinical_band(partial, max((s.score for s in scores), default=0))
        if complete
        else None,
        partial_total=partial,
        sub_scores=tuple(scores),
        missing=tuple(g.parameter for g in gaps),
        gaps=tuple(gaps),
        assumptions=tuple(assumptions),
    )


def _observations(
    result: News2Result,
    latest: Mapping[str, Vital],
    level: RiskLevel,
    every_s: float,
    grace_s: float,
    limit: Limit,
) -> ObservationsDue:
    overdue: list[Parameter] = []
    due: dict[Parameter, datetime] = {}
    for parameter in PARAMETERS:
        reading = latest.get(parameter)
        if parameter in result.missing:
            overdue.append(parameter)
        elif reading is not None and reading.source == "manual":
            # Due for the last `grace_s` of the time it counts.
            left_s = max(0.0, limit(parameter, reading) - grace_s)
            due[parameter] = reading.ts + timedelta(seconds=left_s)
    due_at = min(due.values(), default=None)
    now_due = [p for p, at in due.items() if at <= result.at]
    status: ObservationStatus = "overdue" if overdue else "due" if now_due else "ok"
    parameters = tuple(p for p in PARAMETERS if p in overdue or p in now_due)
    return ObservationsDue(level, every_s, status, due_at, parameters)
