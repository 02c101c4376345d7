"""Vital-sign threshold rules (hr, spo2, rr, temp, sbp, dbp) with persistence and hysteresis.

Settings and their compiled form: rules/vitals_config.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from rules.types import Action, AlertCandidate, ResidentProfile, Vital
from rules.vitals_config import LimitPlan, VitalsConfig

# --- state ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VitalCondition:
    """One limit that is pending (level == -1: breached, not yet for long enough) or open
    (level >= 0: raised, at that tier's severity)."""

    # Per level (the limit, then each tier): start of the current unbroken run of readings
    # beyond it, or None when the latest reading is not beyond it.
    since: tuple[datetime | None, ...]
    last_ts: datetime  # the latest reading that touched this condition
    level: int
    value: float  # latest value
    worst: float  # most extreme value of the episode
    recovering_since: datetime | None = None  # open only: start of the unbroken recovery
    opened_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class VitalsRuleState:
    """Per resident: the last reading time of each metric, and the pending/open conditions
    keyed by rule id. Nothing else is kept."""

    last_seen: Mapping[str, datetime]
    conditions: Mapping[str, VitalCondition]

    @classmethod
    def empty(cls) -> VitalsRuleState:
        return cls({}, {})


def uses_scale2(profile: ResidentProfile) -> bool:
    """Residents whose SpO2 limits come from `spo2_scale2`: NEWS2 scale 2 only (a diagnosis
    tag such as "copd" is not the clinician's decision that the resident retains CO2)."""
    return profile.news2_scale == 2


# --- the rule ------------------------------------------------------------------------------


def vitals_step(
    state: VitalsRuleState,
    vital: Vital,
    *,
    profile: ResidentProfile,
    now: datetime,
    config: VitalsConfig,
    suppressed: bool = False,
) -> tuple[VitalsRuleState, list[AlertCandidate]]:
    """Feed one reading. `suppressed` (device off the wrist or offline): nothing raises,
    pending conditions are dropped, open ones stay open and their recovery starts over."""
    plan = config.plan
    metric = vital.metric
    table = plan.scale2 if profile.news2_scale == 2 else plan.scale1
    mp = table.get(metric)
    if mp is None:
        return state, []
    ts = vital.ts
    seen = state.last_seen
    previous = seen.get(metric)
    # Out-of-order readings say nothing about "continuously since": ignore them.
    if (previous is not None and ts < previous) or ts - now > plan.max_skew:
        return state, []
    last_seen = {**seen, metric: ts}
    conditions = state.conditions
    if suppressed:
        return VitalsRuleState(last_seen, _suppress(conditions)), []
    value = vital.value
    if mp.lo <= value <= mp.hi and (not conditions or conditions.keys().isdisjoint(mp.rule_ids)):
        return VitalsRuleState(last_seen, conditions), []
    if value != value:  # NaN never reaches here from ingest; never let it decide anything
        return VitalsRuleState(last_seen, conditions), []

    spot = vital.source in plan.spot_sources
    # A spot reading's age runs from its own time: a round charted late is not news. A
    # device's backlog is evaluated as it comes; the alert service files what had already
    # ended before it arrived as history (its late-data hold), so a live one still pages.
    current = not spot or now - ts <= mp.max_age
    updated = dict(conditions)
    candidates: list[AlertCandidate] = []
    for lp in mp.limits:
        condition, candidate = _limit_step(
            lp,
            conditions.get(lp.rule_id),
            value,
            ts,
            spot,
            current,
            mp.max_gap,
            vital.source,
            profile,
        )
        if condition is None:
            updated.pop(lp.rule_id, None)
        else:
            updated[lp.rule_id] = condition
        if candidate is not None:
            candidates.append(candidate)
    return VitalsRuleState(last_seen, updated), candidates


def vitals_suppress(state: VitalsRuleState) -> VitalsRuleState:
    """What the engine calls when a device goes off the wrist or offline (no reading needed):
    pending conditions are dropped, open ones stay open with their recovery reset."""
    return VitalsRuleState(state.last_seen, _suppress(state.conditions))


def _suppress(conditions: Mapping[str, VitalCondition]) -> Mapping[str, VitalCondition]:
    if not conditions:
        return conditions
    return {
        rule_id: VitalCondition(
            since=(None,) * len(c.since),
            last_ts=c.last_ts,
            level=c.level,
            value=c.value,
            worst=c.worst,
            recovering_since=None,
            opened_at=c.opened_at,
        )
        for rule_id, c in conditions.items()
        if c.level >= 0
    }


def _limit_step(
    lp: LimitPlan,
    cond: VitalCondition | None,
    value: float,
    ts: datetime,
    spot: bool,
    current: bool,
    max_gap: timedelta,
    source: str,
    profile: ResidentProfile,
) -> tuple[VitalCondition | None, AlertCandidate | None]:
    """`current`: the reading is young enough to raise or escalate (an old one still builds
    persistence, in reading time, and may clear)."""
    thresholds = lp.thresholds
    level = -1
    for threshold in thresholds:
        if (value < threshold) if lp.low else (value > threshold):
            level += 1
        else:
            break
    if cond is not None and len(cond.since) != len(thresholds):
        # The resident's configuration changed shape (tiers added or removed) mid-episode.
        top = min(cond.level, len(thresholds) - 1)
        cond = VitalCondition(
            (None,) * len(thresholds),
            cond.last_ts,
            top,
            cond.value,
            cond.worst,
            cond.recovering_since,
            cond.opened_at,
        )
    # A silence longer than max_gap breaks "continuously": evidence before it does not count.
    fresh = cond is None or ts - cond.last_ts > max_gap
    since: list[datetime | None] = []
    sustained = -1
    for k in range(len(thresholds)):
        if k > level:
            since.append(None)
            continue
        start = ts if fresh or cond is None or cond.since[k] is None else cond.since[k]
        since.append(start)
        if start is not None and (spot or ts - start >= lp.persistence):
            sustained = k
    if cond is None or (fresh and cond.level < 0):
        worst = value  # a new episode (an open one keeps its worst across gaps)
    else:
        worst = min(cond.worst, value) if lp.low else max(cond.worst, value)
    reading = (value, worst, ts, source)
    if cond is None or cond.level < 0:
        return _pending_step(lp, tuple(since), level, sustained, current, reading, profile)
    return _open_step(lp, cond, tuple(since), sustained, fresh, spot, current, reading, profile)


# (value, the episode's worst value, ts, source) of the reading a step is about.
_Reading = tuple[float, float, datetime, str]


def _pending_step(
    lp: LimitPlan,
    since: tuple[datetime | None, ...],
    level: int,
    sustained: int,
    current: bool,
    reading: _Reading,
    profile: ResidentProfile,
) -> tuple[VitalCondition | None, AlertCandidate | None]:
    """A limit not raised yet: it raises once a level has persisted (on a current reading)."""
    value, worst, ts, source = reading
    if level < 0:
        return None, None  # the run is broken before it counted: a blip, not an alert
    if sustained < 0 or not current:
        return VitalCondition(since, ts, -1, value, worst), None
    opened = VitalCondition(since, ts, sustained, value, worst, None, ts)
    first = since[0] if since[0] is not None else ts
    return opened, _candidate(
        lp,
        "raise",
        sustained,
        ts,
        profile,
        value=value,
        worst=worst,
        limit=lp.thresholds[sustained],
        persisted_s=(ts - first).total_seconds(),
        source=source,
    )


def _open_step(
    lp: LimitPlan,
    cond: VitalCondition,
    since: tuple[datetime | None, ...],
    sustained: int,
    fresh: bool,
    spot: bool,
    current: bool,
    reading: _Reading,
    profile: ResidentProfile,
) -> tuple[VitalCondition | None, AlertCandidate | None]:
    """A raised limit: it clears after a held recovery, or escalates to a persisted tier."""
    value, worst, ts, source = reading
    thresholds = lp.thresholds
    recovered = value >= lp.clear_at if lp.low else value <= lp.clear_at
    if recovered:
        start = ts if fresh or cond.recovering_since is None else cond.recovering_since
        if spot or ts - start >= lp.clear_after:
            opened_at = cond.opened_at if cond.opened_at is not None else ts
            return None, _candidate(
                lp,
                "clear",
                cond.level,
                ts,
                profile,
                value=value,
                worst=worst,
                limit=thresholds[0],
                open_s=(ts - opened_at).total_seconds(),
                source=source,
            )
        return VitalCondition(
            (None,) * len(thresholds), ts, cond.level, value, worst, start, cond.opened_at
        ), None
    # Still beyond the limit or inside the hysteresis band: stays open. Severity only rises,
    # and only when a more extreme tier has itself persisted (on a current reading).
    if not current:
        sustained = -1
    raised = VitalCondition(
        since, ts, max(cond.level, sustained), value, worst, None, cond.opened_at
    )
    if sustained > cond.level:
        return raised, _candidate(
            lp,
            "update",
            sustained,
            ts,
            profile,
            value=value,
            worst=worst,
            limit=thresholds[sustained],
            source=source,
        )
    return raised, None


def _candidate(
    lp: LimitPlan,
    action: Action,
    level: int,
    ts: datetime,
    profile: ResidentProfile,
    **values: float | str,
) -> AlertCandidate:
    subject = profile.subject
    return AlertCandidate(
        rule_id=lp.rule_id,
        action=action,
        subject=subject,
        dedupe_key=f"{lp.rule_id}:{subject}",
        severity=lp.severities[level],
        ts=ts,
        title=lp.titles[level],
        values=dict(values),
    )
