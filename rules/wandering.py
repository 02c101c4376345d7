"""Wandering: a resident with dementia leaving a zone outside the allowed hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from pydantic import BaseModel, ConfigDict

from rules.schedule import DailyWindow
from rules.types import Action, AlertCandidate, DeviceEvent, ResidentProfile, Severity

RULE_ID = "wandering"


class WanderingConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: DailyWindow = DailyWindow(start=time(8, 0), end=time(20, 0))
    zones: frozenset[str] | None = None  # None: leaving any zone counts
    condition: str = "dementia"
    severity: Severity = "high"


@dataclass(frozen=True, slots=True)
class WanderingState:
    open_zones: frozenset[str] = frozenset()


def wandering_step(
    state: WanderingState,
    event: DeviceEvent,
    *,
    profile: ResidentProfile,
    config: WanderingConfig,
) -> tuple[WanderingState, list[AlertCandidate]]:
    zone = event.zone or "?"
    key = f"{RULE_ID}:{profile.subject}"
    if event.type == "zone_exit":
        if (
            config.condition not in profile.conditions
            or (config.zones is not None and zone not in config.zones)
            or config.allowed.contains(event.ts, profile.timezone)
        ):
            return state, []
        action: Action = "update" if state.open_zones else "raise"
        candidate = AlertCandidate(
            rule_id=RULE_ID,
            action=action,
            subject=profile.subject,
            dedupe_key=key,
            severity=config.severity,
            ts=event.ts,
            title=f"Left zone {zone}",
            values={"zone": zone},
        )
        return WanderingState(state.open_zones | {zone}), [candidate]
    if event.type == "zone_enter" and zone in state.open_zones:
        remaining = state.open_zones - {zone}
        if remaining:
            return WanderingState(remaining), []
        candidate = AlertCandidate(
            rule_id=RULE_ID,
            action="clear",
            subject=profile.subject,
            dedupe_key=key,
            severity=config.severity,
            ts=event.ts,
            title=f"Back in zone {zone}",
            values={"zone": zone},
        )
        return WanderingState(remaining), [candidate]
    return state, []
