"""Unit-level fever clusters: K or more residents of one unit with a fever onset inside a
window raise one "outbreak.fever_cluster" alert for the unit, addressed to infection control.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from pydantic import Field

from rules.config import RuleConfig
from rules.types import Action, AlertCandidate, Severity, unit_subject

__all__ = [
    "RULE_ID",
    "OutbreakConfig",
    "OutbreakState",
    "outbreak_step",
]

RULE_ID: Final = "outbreak.fever_cluster"


class OutbreakConfig(RuleConfig):
    # Three or more residents of the same unit with illness onsets within 72 h of each other is
    # a suspected respiratory outbreak (Wisconsin DHS, "Preventing and controlling respiratory
    # illness outbreaks in long-term care facilities", 2023; CDC influenza LTC guidance uses
    # two ill within 72 h plus one laboratory-confirmed case). Fever alone is a proxy for
    # illness here, so the stricter three.
    min_residents: int = Field(default=3, ge=2)
    window_s: float = Field(default=72 * 3600.0, gt=0)
    severity: Severity = "high"
    audience: str = Field(default="infection_control", min_length=1)


@dataclass(frozen=True, slots=True)
class OutbreakState:
    """Per unit: each resident's latest fever onset inside the window, and what the open
    alert (if any) last reported."""

    unit: str | None = None  # the unit subject this state belongs to, set on first use
    onsets: Mapping[int, datetime] = field(default_factory=dict)
    open: bool = False
    reported: frozenset[int] = frozenset()


def outbreak_step(
    state: OutbreakState,
    fever_onset: tuple[int, datetime] | None,
    *,
    site_id: str,
    unit_id: str,
    now: datetime,
    config: OutbreakConfig,
) -> tuple[OutbreakState, list[AlertCandidate]]:
    """Feed a fever onset (resident id, onset time) of a resident of this unit, or None to
    let time pass (the engine calls it periodically so an expired cluster clears)."""
    subject = unit_subject(site_id, unit_id)
    if state.unit is not None and state.unit != subject:
        raise ValueError(f"outbreak state of {state.unit} fed for {subject}")
    horizon = now - timedelta(seconds=config.window_s)
    onsets = {rid: t for rid, t in state.onsets.items() if t >= horizon}
    if fever_onset is not None:
        resident_id, onset = fever_onset
        if onset >= horizon and (resident_id not in onsets or onsets[resident_id] < onset):
            onsets[resident_id] = onset
    count = len(onsets)
    cluster = count >= config.min_residents

    candidates: list[AlertCandidate] = []
    # A resident whose onset left the window and who has a fever again counts as joining again.
    reported = state.reported.intersection(onsets)
    if cluster and (not state.open or not onsets.keys() <= reported):
        # Raise at K; while open, any resident not yet reported joining is an update.
        action: Action = "update" if state.open else "raise"
        newest = max(onsets.values())
        candidates.append(_candidate(action, subject, unit_id, onsets, newest, config))
        reported = frozenset(onsets)
    elif state.open and not cluster:
        candidates.append(_candidate("clear", subject, unit_id, onsets, now, config))
        reported = frozenset()
    return OutbreakState(subject, onsets, cluster, reported), candidates


def _candidate(
    action: Action,
    subject: str,
    unit_id: str,
    onsets: Mapping[int, datetime],
    ts: datetime,
    config: OutbreakConfig,
) -> AlertCandidate:
    hours = config.window_s / 3600
    residents = sorted(onsets)
    values: dict[str, float | str] = {
        "count": len(residents),
        "residents": ",".join(str(r) for r in residents),
        "window_h": hours,
    }
    if onsets:
        values["first_onset"] = min(onsets.values()).isoformat()
        values["last_onset"] = max(onsets.values()).isoformat()
    if action == "clear":
        title = f"Fever cluster in unit {unit_id} over: fewer than {config.min_residents} residents"
    else:
        title = f"Fever cluster: {len(residents)} residents of unit {unit_id} within {hours:g} h"
    return AlertCandidate(
        rule_id=RULE_ID,
        action=action,
        subject=subject,
        dedupe_key=f"{RULE_ID}:{subject}",
        severity=config.severity,
        ts=ts,
        title=title,
        values=values,
        audience=config.audience,
    )
