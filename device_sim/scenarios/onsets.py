"""When a scripted event's emitted data first support detection, counted as each rule counts
it (persistence, the fever criteria, NEWS2 from the freshest values): never the event's intent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from device_sim.scenarios.plan import ResidentPlan
from rules.engine import RulesConfig
from rules.news2 import PARAMETERS, compute_news2
from rules.types import Severity, Vital
from rules.vitals_config import Limit


def limit_onset(
    readings: Sequence[Vital], limit: Limit, low: bool, max_gap_s: float, spot: frozenset[str]
) -> datetime | None:
    """When the readings first breach `limit` for its persistence (as the rule counts it)."""
    run: datetime | None = None
    last: datetime | None = None
    for v in readings:
        beyond = v.value < limit.threshold if low else v.value > limit.threshold
        if last is not None and (v.ts - last).total_seconds() > max_gap_s:
            run = None
        last = v.ts
        if not beyond:
            run = None
            continue
        if v.source in spot:
            return v.ts
        run = run or v.ts
        if (v.ts - run).total_seconds() >= limit.persistence_s:
            return v.ts
    return None


def fever_onset(temps: Sequence[Vital], config: RulesConfig) -> datetime | None:
    f = config.baseline.fever
    above: list[datetime] = []
    for v in sorted(temps, key=lambda v: v.ts):
        if v.value > f.single_c:
            return v.ts
        if v.value > f.repeated_c:
            above = [t for t in above if (v.ts - t).total_seconds() <= f.repeated_window_s]
            if not above or (v.ts - above[-1]).total_seconds() >= f.repeated_min_gap_s:
                above.append(v.ts)
            if len(above) >= f.repeated_count:
                return v.ts
    return None


def news2_onset(
    r: ResidentPlan, vitals: Sequence[Vital], t0: datetime, t1: datetime, config: RulesConfig
) -> tuple[datetime, Severity, datetime | None] | None:
    """When the complete NEWS2 from the freshest values first holds 5 or more for the rule's
    medium persistence (severity "high", with the first instant it touched 5), else when it
    first holds an alert band (a single 3 or worse) for the longest persistence ("medium").
    A score that only touches a band for less than its persistence is noise in 1 Hz wearable
    data, not an event: no label (the spontaneous labels use the same standard)."""
    latest: dict[str, Vital] = {}
    params = set(PARAMETERS)
    first_five: datetime | None = None
    five_run: datetime | None = None
    band_run: datetime | None = None
    band_held: datetime | None = None
    hold_five = timedelta(seconds=config.news2.raise_after_s.medium)
    hold_band = timedelta(seconds=config.news2.raise_after_s.low_medium)
    for v in sorted(vitals, key=lambda v: v.ts):
        if v.metric not in params:
            continue
        if v.metric not in latest or v.ts >= latest[v.metric].ts:
            latest[v.metric] = v
        if not t0 <= v.ts <= t1:
            continue
        result = compute_news2(latest, scale=r.profile.news2_scale, now=v.ts, config=config.news2)
        if result.total is None or result.band is None:
            continue
        if result.total >= 5:
            first_five = first_five or v.ts
            five_run = five_run or v.ts
            if v.ts - five_run >= hold_five:
                return five_run, "high", first_five
        else:
            five_run = None
        if result.band == "low":
            band_run = None
            continue
        band_run = band_run or v.ts
        if band_held is None and v.ts - band_run >= hold_band:
            band_held = band_run
    return (band_held, "medium", None) if band_held is not None else None
