"""The indicators of a site over a date range (issue 18), from rows already read. Pure: no I/O,
no clock; the window is given. Each figure counts what happened inside [start, end): an alert
or incident by when it opened, a referral by when it was requested, an outbreak by when its
file opened. Definitions are in docs/indicators.md."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

# The outcomes that say an alert was about something real: staff acted on it, or had already
# (the definition of GET /api/v1/alerts/precision). A false alarm is not; a self-cleared device
# alert was never judged by a person, so it is left out of precision altogether.
REAL: Final = frozenset({"actionable", "already_attended"})
JUDGED: Final = REAL | {"false_alarm"}
DISABLED: Final = frozenset({"severe", "complete_loss"})
IN_HOME: Final = "admitted"  # in_hospital, discharged, deceased: not a resident-day
ANSWER_SLA: Final = timedelta(minutes=15)
DAY_S: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime  # exclusive

    def holds(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end


@dataclass(frozen=True, slots=True)
class AlertRow:
    rule_id: str
    opened_at: datetime
    resolved_at: datetime | None
    outcome: str | None
    incident_id: int = 0


@dataclass(frozen=True, slots=True)
class IncidentRow:
    opened_at: datetime
    acknowledged_at: datetime | None
    escalations: int = 0  # escalated steps reached
    unstaffed_steps: int = 0  # steps that found nobody on duty to page


@dataclass(frozen=True, slots=True)
class ResidentRow:
    admitted_at: datetime
    # (when, status) in time order; before the first, the resident was admitted.
    history: Sequence[tuple[datetime, str]] = ()
    ability_level: str | None = None
    conditions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ReferralRow:
    requested_at: datetime | None  # None: a suggestion never requested
    answered_at: datetime | None  # the hospital's first answer (accepted or declined)
    returned_at: datetime | None


@dataclass(frozen=True, slots=True)
class OutbreakRow:
    syndrome: str
    opened_at: datetime
    reported_at: datetime | None
    status: str


@dataclass(frozen=True, slots=True)
class DeviceRow:
    kind: str
    created_at: datetime
    retired_at: datetime | None
    online_s: float  # seconds online inside the window (up to `now`), summed by the reader
    # Wear events (when, worn), in time order: the last one before the window, then its own.
    wear: Sequence[tuple[datetime, bool]] = ()


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    kind: str
    starts_at: datetime
    interval: timedelta
    # The last visit before the window (None: none), then those from its start on.
    done_before: datetime | None
    done: Sequence[datetime] = ()


@dataclass(frozen=True, slots=True)
class Rows:
    alerts: Sequence[AlertRow] = ()
    incidents: Sequence[IncidentRow] = ()
    residents: Sequence[ResidentRow] = ()
    referrals: Sequence[ReferralRow] = ()
    outbreaks: Sequence[OutbreakRow] = ()
    observations: int = 0  # manual observations charted in the window
    devices: Sequence[DeviceRow] = ()
    schedules: Sequence[ScheduleRow] = ()
    # (category, residents of it, of them under a contract) at the window's last day.
    contracts: Sequence[tuple[str, int, int]] = ()


def durations(values: Iterable[float]) -> dict[str, float | int | None]:
    """How many, the median and the 90th percentile (nearest rank), in seconds."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "median_s": None, "p90_s": None}
    p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]
    return {"count": len(ordered), "median_s": statistics.median(ordered), "p90_s": p90}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def alert_figures(window: Window, alerts: Sequence[AlertRow]) -> dict[str, Any]:
    """Alerts by rule and outcome, precision per rule, time to resolve."""
    mine = [a for a in alerts if window.holds(a.opened_at)]
    by_rule: dict[str, Counter[str]] = defaultdict(Counter)
    for a in mine:
        by_rule[a.rule_id][a.outcome or "unresolved"] += 1
    rules = {}
    for rule, outcomes in sorted(by_rule.items()):
        judged = sum(outcomes[o] for o in JUDGED)
        rules[rule] = {
            "total": sum(outcomes.values()),
            **{o: outcomes[o] for o in (*sorted(JUDGED), "self_cleared", "unresolved")},
            "precision": _share(sum(outcomes[o] for o in REAL), judged),
        }
    to_resolve = [
        (a.resolved_at - a.opened_at).total_seconds() for a in mine if a.resolved_at is not None
    ]
    return {"total": len(mine), "by_rule": rules, "time_to_resolve": durations(to_resolve)}


def incident_figures(window: Window, incidents: Sequence[IncidentRow]) -> dict[str, Any]:
    """Time to acknowledge, escalations and steps nobody was on duty for."""
    mine = [i for i in incidents if window.holds(i.opened_at)]
    to_ack = [
        (i.acknowledged_at - i.opened_at).total_seconds()
        for i in mine
        if i.acknowledged_at is not None
    ]
    return {
        "total": len(mine),
        "time_to_acknowledge": durations(to_ack),
        "escalated": sum(1 for i in mine if i.escalations),
        "escalation_steps": sum(i.escalations for i in mine),
        "unstaffed_steps": sum(i.unstaffed_steps for i in mine),
    }


def days_in_home(window: Window, resident: ResidentRow) -> float:
    """The resident's days in the home (status admitted) inside the window."""
    spans: list[tuple[datetime, str]] = [(resident.admitted_at, IN_HOME), *resident.history]
    total = 0.0
    for n, (since, status) in enumerate(spans):
        until = spans[n + 1][0] if n + 1 < len(spans) else window.end
        start, end = max(since, window.start), min(until, window.end)
        if status == IN_HOME and end > start:
            total += (end - start).total_seconds()
    return total / DAY_S


def resident_figures(
    window: Window, residents: Sequence[ResidentRow], falls: int
) -> dict[str, Any]:
    """Resident-days, census, falls per 1,000 resident-days, disabled and dementia shares."""
    days = [days_in_home(window, r) for r in residents]
    present = [r for r, d in zip(residents, days, strict=True) if d > 0]
    total = sum(days, 0.0)
    disabled = sum(1 for r in present if r.ability_level in DISABLED)
    dementia = sum(1 for r in present if "dementia" in r.conditions)
    return {
        "resident_days": total,
        "average_census": total / ((window.end - window.start).total_seconds() / DAY_S),
        "residents": len(present),
        "falls": falls,
        "falls_per_1000_resident_days": 1000 * falls / total if total else None,
        "disabled": disabled,
        "disabled_share": _share(disabled, len(present)),
        "dementia": dementia,
        "dementia_share": _share(dementia, len(present)),
        "ability_not_assessed": sum(1 for r in present if r.ability_level is None),
    }


def referral_figures(window: Window, referrals: Sequence[ReferralRow]) -> dict[str, Any]:
    """Referrals requested, answered within 15 minutes, and returns."""
    asked = [r for r in referrals if window.holds(r.requested_at)]
    in_time = sum(
        1
        for r in asked
        if r.answered_at is not None
        and r.requested_at is not None
        and r.answered_at - r.requested_at <= ANSWER_SLA
    )
    return {
        "requested": len(asked),
        "answered": sum(1 for r in asked if r.answered_at is not None),
        "answered_within_15_min": in_time,
        "answered_within_15_min_share": _share(in_time, len(asked)),
        "returned": sum(1 for r in referrals if window.holds(r.returned_at)),
    }


def outbreak_figures(window: Window, outbreaks: Sequence[OutbreakRow]) -> dict[str, Any]:
    """Outbreak case files opened (drills are not outbreaks: the reader leaves them out), by
    syndrome, and the time from opening to the report to disease control."""
    mine = [o for o in outbreaks if window.holds(o.opened_at)]
    reported = [
        (o.reported_at - o.opened_at).total_seconds()
        for o in mine
        if o.status == "reported" and o.reported_at is not None
    ]
    statuses = Counter(o.status for o in mine)
    return {
        "opened": len(mine),
        "by_syndrome": dict(sorted(Counter(o.syndrome for o in mine).items())),
        **{s: statuses[s] for s in ("open", "reported", "ruled_out")},
        "time_to_report": durations(reported),
    }


def _hours(seconds: float) -> float:
    return seconds / 3600


def device_figures(window: Window, devices: Sequence[DeviceRow], now: datetime) -> dict[str, Any]:
    """Device-hours (each device from its provisioning to its retirement, inside the window
    and before `now`), the share of them online, and the share of wearable-hours worn."""
    end = min(window.end, now)
    total = online = wearable = worn = 0.0
    for d in devices:
        start, until = max(d.created_at, window.start), min(d.retired_at or end, end)
        if until <= start:
            continue
        total += (until - start).total_seconds()
        online += d.online_s
        if d.kind == "wearable":
            wearable += (until - start).total_seconds()
            worn += worn_seconds(d.wear, start, until)
    return {
        "device_hours": _hours(total),
        "online_hours": _hours(online),
        "online_share": online / total if total else None,
        "wearable_hours": _hours(wearable),
        "worn_hours": _hours(worn),
        "worn_share": worn / wearable if wearable else None,
    }


def worn_seconds(wear: Sequence[tuple[datetime, bool]], start: datetime, end: datetime) -> float:
    """Seconds in [start, end) from a wear_on to the next wear_off (before any event: not worn,
    nothing says it was)."""
    total = 0.0
    for n, (since, on) in enumerate(wear):
        until = wear[n + 1][0] if n + 1 < len(wear) else end
        lo, hi = max(since, start), min(until, end)
        if on and hi > lo:
            total += (hi - lo).total_seconds()
    return total


def round_outcomes(window: Window, s: ScheduleRow, now: datetime) -> Counter[str]:
    """The schedule's rounds due in the window: each done on time (a visit at or before it was
    due), late (a visit after, within one interval), missed (none within one interval: the next
    is then due one interval later) or pending (still within its interval at `now`). Due times
    follow services/visits/due.py: first at the start, then one interval after a visit."""
    out: Counter[str] = Counter()
    at = s.starts_at if s.done_before is None else max(s.done_before + s.interval, s.starts_at)
    # Rounds missed before the window (no visit between): not counted, skipped at once.
    if (skip := (min(window.start, now) - at) // s.interval) > 0:
        at += skip * s.interval
    visits = iter(sorted(s.done))
    visit = next(visits, None)
    while at < window.end:
        due_at = at
        if visit is not None and visit < due_at + s.interval:
            outcome = "on_time" if visit <= due_at else "late"
            at = max(visit + s.interval, s.starts_at)
            visit = next(visits, None)
        elif now < due_at + s.interval:
            outcome = "pending"
        else:
            outcome, at = "missed", due_at + s.interval
        if due_at >= window.start:
            out[outcome] += 1
        if outcome == "pending":
            break
    return out


OUTCOMES: Final = ("on_time", "late", "missed", "pending")


def schedule_figures(
    window: Window, schedules: Sequence[ScheduleRow], now: datetime
) -> dict[str, Any]:
    """Rounds and visits due in the window and what became of them, in all and by kind."""
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for s in schedules:
        by_kind[s.kind] += round_outcomes(window, s, now)
    everything: Counter[str] = sum(by_kind.values(), Counter())

    def counts(c: Counter[str]) -> dict[str, Any]:
        due = sum(c[o] for o in OUTCOMES)
        done = c["on_time"] + c["late"]
        return {"due": due, **{o: c[o] for o in OUTCOMES}, "done_share": _share(done, due)}

    return {
        **counts(everything),
        "by_kind": {kind: counts(c) for kind, c in sorted(by_kind.items())},
    }


def contract_figures(counts: Sequence[tuple[str, int, int]], target: float) -> dict[str, Any]:
    """Family-doctor contract coverage per special-needs category against the target."""
    out: dict[str, Any] = {}
    for category, residents, contracted in counts:
        rate = _share(contracted, residents)
        out[category] = {
            "residents": residents,
            "contracted": contracted,
            "rate": rate,
            "meets_target": None if rate is None else rate >= target,
        }
    return {"target": target, "by_category": out}


def indicators(window: Window, rows: Rows, *, now: datetime, target: float = 0.8) -> dict[str, Any]:
    """Every figure of the site in the window, nested by section (`now`: what is not over
    yet, a device's hours to come or a round still in its interval, is not counted)."""
    alerts = alert_figures(window, rows.alerts)
    # A fall is an incident with a fall alert (detected, reported by the device, or the long
    # lie after it: one fall) that staff found real.
    falls = len(
        {
            a.incident_id
            for a in rows.alerts
            if a.rule_id.startswith("fall.") and window.holds(a.opened_at) and a.outcome in REAL
        }
    )
    return {
        "alerts": alerts,
        "incidents": incident_figures(window, rows.incidents),
        "residents": resident_figures(window, rows.residents, falls),
        "referrals": referral_figures(window, rows.referrals),
        "observations": {
            "done": rows.observations,
            "rounds": schedule_figures(window, rows.schedules, now),
        },
        "outbreaks": outbreak_figures(window, rows.outbreaks),
        "devices": device_figures(window, rows.devices, now),
        "contracts": contract_figures(rows.contracts, target),
    }


def flatten(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The nested figures as (dotted name, value) rows: the CSV's and the workbook's."""
    out: list[tuple[str, Any]] = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += flatten(value, name + ".")
        else:
            out.append((name, value))
    return out
