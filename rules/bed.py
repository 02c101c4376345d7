"""Bed and movement: a fall-risk resident out of bed at night and not back within N minutes;
no sign of activity for hours in the day while the wearable streams motion."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from rules.schedule import DAY, NIGHT, DailyWindow
from rules.types import AlertCandidate, DeviceEvent, ResidentProfile, Severity, Vital, candidate

BED_EXIT = "bed.exit_night"
INACTIVITY = "inactivity"


class BedRulesConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    night: DailyWindow = NIGHT
    # Most night-time toilet visits take under 15 minutes; longer is when falls are found.
    return_within_s: float = Field(default=900.0, gt=0)
    only_fall_risk: bool = True
    exit_severity: Severity = "high"
    day: DailyWindow = DAY
    inactivity_s: float = Field(default=3 * 3600.0, gt=0)
    inactivity_severity: Severity = "medium"
    # "No activity" needs a device that streams motion: with motion windows arriving (the
    # last within this long) but none active, the resident is still. With no stream at all,
    # nothing can be said either way (the device rules report a silent device).
    motion_stream_s: float = Field(default=300.0, gt=0)
    activity_movement: float = Field(default=0.2, ge=0, le=1)  # bed movement that counts


@dataclass(frozen=True, slots=True)
class BedState:
    in_bed: bool | None = None
    left_at: datetime | None = None  # a night exit waiting for the return
    exit_open: bool = False
    last_activity: datetime | None = None
    inactivity_open: bool = False
    last_motion: datetime | None = None  # the last motion window seen, active or not
    motion_since: datetime | None = None  # start of the current unbroken motion stream


def occupancy(obs: Vital | DeviceEvent) -> bool | None:
    """In bed (True), out (False), or not about occupancy (None)."""
    if isinstance(obs, Vital):
        return obs.value >= 0.5 if obs.metric == "occupied" else None
    return {"bed_enter": True, "bed_exit": False}.get(obs.type)


def bed_step(
    state: BedState,
    obs: Vital | DeviceEvent,
    *,
    profile: ResidentProfile,
    config: BedRulesConfig,
) -> tuple[BedState, list[AlertCandidate]]:
    out: list[AlertCandidate] = []
    if (
        isinstance(obs, Vital)
        and obs.metric == "movement"
        and obs.value >= config.activity_movement
    ):
        state, out = note_activity(state, obs.ts, profile=profile, config=config)
    now_in = occupancy(obs)
    if now_in is None or now_in == state.in_bed:
        return state, out
    state, activity = note_activity(
        replace(state, in_bed=now_in), obs.ts, profile=profile, config=config
    )
    out += activity
    if now_in:
        if state.exit_open:
            out.append(
                candidate(BED_EXIT, "clear", profile, obs.ts, config.exit_severity, "Back in bed")
            )
        return replace(state, left_at=None, exit_open=False), out
    watched = profile.fall_risk or not config.only_fall_risk
    if watched and config.night.contains(obs.ts, profile.timezone):
        state = replace(state, left_at=obs.ts)
    return state, out


def note_activity(
    state: BedState, ts: datetime, *, profile: ResidentProfile, config: BedRulesConfig
) -> tuple[BedState, list[AlertCandidate]]:
    """Evidence the resident moved (the engine calls this for active motion windows, zone
    events, bed movement and occupancy changes)."""
    out = []
    if state.inactivity_open:
        out.append(
            candidate(
                INACTIVITY, "clear", profile, ts, config.inactivity_severity, "Activity again"
            )
        )
    if state.last_activity is None or ts > state.last_activity:
        state = replace(state, last_activity=ts)
    return replace(state, inactivity_open=False), out


def note_motion(state: BedState, ts: datetime, *, config: BedRulesConfig) -> BedState:
    """A motion window arrived (active or not): the device is streaming motion. A gap longer
    than `motion_stream_s` starts a new stream."""
    if state.last_motion is not None and ts <= state.last_motion:
        return state
    since = state.motion_since
    gap = None if state.last_motion is None else (ts - state.last_motion).total_seconds()
    if since is None or gap is None or gap > config.motion_stream_s:
        since = ts
    return replace(state, last_motion=ts, motion_since=since)


def bed_tick(
    state: BedState, *, profile: ResidentProfile, now: datetime, config: BedRulesConfig
) -> tuple[BedState, list[AlertCandidate]]:
    out: list[AlertCandidate] = []
    if (
        state.left_at is not None
        and not state.exit_open
        and (now - state.left_at).total_seconds() >= config.return_within_s
    ):
        away = round((now - state.left_at).total_seconds() / 60)
        out.append(
            candidate(
                BED_EXIT,
                "raise",
                profile,
                now,
                config.exit_severity,
                f"Out of bed at night for {away} min",
                away_min=away,
            )
        )
        state = replace(state, exit_open=True)
    if (
        not state.inactivity_open
        and state.last_activity is not None
        and state.last_motion is not None
        and state.motion_since is not None
        and (now - state.last_motion).total_seconds() <= config.motion_stream_s
        and config.day.contains(now, profile.timezone)
        # Still for the whole period, by evidence: no activity, and motion data throughout.
        and (now - max(state.last_activity, state.motion_since)).total_seconds()
        >= config.inactivity_s
    ):
        still = round((now - state.last_activity).total_seconds() / 60)
        out.append(
            candidate(
                INACTIVITY,
                "raise",
                profile,
                now,
                config.inactivity_severity,
                f"No activity for {still} min",
                still_min=still,
            )
        )
        state = replace(state, inactivity_open=True)
    return state, out
