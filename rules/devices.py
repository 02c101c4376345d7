"""Device rules: offline (last will or silence), low battery, wearable removed.

Silence is never read as "well": while a device is offline or off the wrist, the vital
rules it feeds are suppressed (`vitals_suppressed`) and the device alert says so.

An offline episode is one alert: a device back online ends it only once it has stayed back
for `flap_damping_s`; going offline again before that continues the same episode, so a
device flapping on a weak Wi-Fi link raises (and pages) once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.types import (
    Action,
    AlertCandidate,
    DeviceEvent,
    DeviceStatus,
    Observation,
    ResidentProfile,
    Severity,
    Vital,
    candidate,
)

OFFLINE = "device.offline"
BATTERY = "device.battery_low"
WEAR_OFF = "device.wear_off"
SUPPRESSED_NOTE = "vital-sign rules fed by this device are paused until it is back"


class DeviceRulesConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Wearables send vitals every few seconds and a status at least every 60 s (protocol
    # v1): five minutes of nothing is a lost device, not a quiet one.
    silence_s: float = Field(default=300.0, gt=0)
    offline_severity: Severity = "medium"
    # A last will pages only if the device has not spoken again this long after it: a broker
    # restart, or a Wi-Fi blip, publishes wills for devices that reconnect within seconds, and
    # paging every resident for those drowns the alerts that count. 0: page at once.
    offline_grace_s: float = Field(default=120.0, ge=0)
    battery_low: float = Field(default=20.0, ge=0, le=100)
    battery_critical: float = Field(default=5.0, ge=0, le=100)
    battery_clear: float = Field(default=30.0, ge=0, le=100)  # hysteresis: charge well first
    # Bathing and dressing take the wearable off for a while; longer than this needs a look.
    wear_off_grace_s: float = Field(default=900.0, ge=0)
    # A device back online ends its offline episode only after this long back: one that drops
    # out again sooner (a flapping link) stays one alert. 0: the episode ends at once.
    flap_damping_s: float = Field(default=300.0, ge=0)

    @model_validator(mode="after")
    def ordered(self) -> DeviceRulesConfig:
        if not self.battery_critical <= self.battery_low <= self.battery_clear:
            raise ValueError("need battery_critical <= battery_low <= battery_clear")
        return self


@dataclass(frozen=True, slots=True)
class DeviceState:
    device_id: str
    last_seen: datetime | None = None
    offline_open: bool = False
    battery_open: Severity | None = None
    worn: bool = True
    wear_off_at: datetime | None = None
    wear_off_open: bool = False
    will_at: datetime | None = None  # a last will not yet confirmed by the grace period
    back_at: datetime | None = None  # offline episode open, device back since (damping)

    @property
    def vitals_suppressed(self) -> bool:
        # Back while the episode is damped: its readings are real again.
        return (self.offline_open and self.back_at is None) or not self.worn

    def __setstate__(self, state: list[object]) -> None:
        # Snapshots taken before a field was added lack its value: it takes its default.
        for i, f in enumerate(fields(self)):
            object.__setattr__(self, f.name, state[i] if i < len(state) else f.default)


def _candidate(
    rule_id: str,
    action: Action,
    state: DeviceState,
    profile: ResidentProfile,
    ts: datetime,
    severity: Severity,
    title: str,
    **values: float | str,
) -> AlertCandidate:
    """One condition per device (a resident may wear two)."""
    return candidate(
        rule_id,
        action,
        profile,
        ts,
        severity,
        title,
        key=state.device_id,
        device_id=state.device_id,
        **values,
    )


def device_step(
    state: DeviceState,
    obs: Observation,
    *,
    profile: ResidentProfile,
    config: DeviceRulesConfig,
) -> tuple[DeviceState, list[AlertCandidate]]:
    """Anything the device sent: it is alive (unless it says otherwise)."""
    ts = obs.ts
    if isinstance(obs, Vital) and not state.offline_open and state.will_at is None:
        # The hot path (a reading from a device already known to be online): only the time
        # of the last sighting moves. Built directly: dataclasses.replace costs 20x more.
        if state.last_seen is not None and ts <= state.last_seen:
            return state, []
        s = state
        return DeviceState(
            s.device_id, ts, False, s.battery_open, s.worn, s.wear_off_at, s.wear_off_open
        ), []
    out: list[AlertCandidate] = []
    said_offline = isinstance(obs, DeviceStatus) and obs.online is False
    if said_offline:
        if state.offline_open and state.back_at is not None:
            # Offline again within the damping window: the same episode, no new alert.
            return replace(state, back_at=None), []
        if state.offline_open or state.will_at is not None:
            return state, []  # already offline, or a repeated will within the grace
        if config.offline_grace_s > 0:
            return replace(state, will_at=ts), []
        return replace(state, offline_open=True), [_disconnected(state, profile, ts, config)]
    if state.will_at is not None:
        # Anything the device sends after its will (in arrival order: a stamp from its own
        # clock may lag the broker's) means it is connected again: no page.
        state = replace(state, will_at=None)
    if state.last_seen is None or ts > state.last_seen:
        state = replace(state, last_seen=ts)
    if state.offline_open and state.back_at is None:
        if config.flap_damping_s > 0:
            state = replace(state, back_at=ts)  # the episode ends once it stays back (tick)
        else:
            out.append(_back_online(state, profile, ts, config))
            state = replace(state, offline_open=False)
    if isinstance(obs, DeviceStatus) and obs.battery is not None:
        state, battery = _battery(state, obs.battery, ts, profile, config)
        out += battery
    if isinstance(obs, DeviceEvent):
        state, worn = _wear(state, obs, profile)
        out += worn
    return state, out


def _back_online(
    state: DeviceState, profile: ResidentProfile, ts: datetime, config: DeviceRulesConfig
) -> AlertCandidate:
    return _candidate(
        OFFLINE, "clear", state, profile, ts, config.offline_severity, "Device back online"
    )


def _disconnected(
    state: DeviceState,
    profile: ResidentProfile,
    ts: datetime,
    config: DeviceRulesConfig,
    **values: float | str,
) -> AlertCandidate:
    return _candidate(
        OFFLINE,
        "raise",
        state,
        profile,
        ts,
        config.offline_severity,
        "Device disconnected",
        cause="last_will",
        note=SUPPRESSED_NOTE,
        **values,
    )


def _battery(
    state: DeviceState,
    level: float,
    ts: datetime,
    profile: ResidentProfile,
    config: DeviceRulesConfig,
) -> tuple[DeviceState, list[AlertCandidate]]:
    wanted: Severity | None = state.battery_open
    if level <= config.battery_critical:
        wanted = "medium"
    elif level <= config.battery_low:
        wanted = "low" if state.battery_open != "medium" else "medium"
    elif level >= config.battery_clear:
        wanted = None
    if wanted == state.battery_open:
        return state, []
    action: Action
    if wanted is None:
        action, severity, title = "clear", state.battery_open or "low", "Battery charged"
    else:
        action = "raise" if state.battery_open is None else "update"
        severity, title = wanted, f"Battery low ({level:.0f}%)"
    found = _candidate(BATTERY, action, state, profile, ts, severity, title, battery=level)
    return replace(state, battery_open=wanted), [found]


def _wear(
    state: DeviceState, event: DeviceEvent, profile: ResidentProfile
) -> tuple[DeviceState, list[AlertCandidate]]:
    if event.type == "wear_off" and state.worn:
        return replace(state, worn=False, wear_off_at=event.ts), []
    if event.type == "wear_on" and not state.worn:
        out = []
        if state.wear_off_open:
            out.append(
                _candidate(
                    WEAR_OFF, "clear", state, profile, event.ts, "medium", "Wearable back on"
                )
            )
        return replace(state, worn=True, wear_off_at=None, wear_off_open=False), out
    return state, []


def _settle(
    state: DeviceState,
    back_at: datetime,
    profile: ResidentProfile,
    now: datetime,
    config: DeviceRulesConfig,
) -> tuple[DeviceState, list[AlertCandidate]]:
    """An offline episode whose device came back: over once it stayed back long enough."""
    heard = state.last_seen or back_at
    if (now - heard).total_seconds() > config.silence_s:
        return replace(state, back_at=None), []  # silent again: the episode goes on
    if (now - back_at).total_seconds() < config.flap_damping_s:
        return state, []
    # Stamped with the time it came back: a replay clears with the same candidate.
    cleared = _back_online(state, profile, back_at, config)
    return replace(state, offline_open=False, back_at=None), [cleared]


def device_tick(
    state: DeviceState, *, profile: ResidentProfile, now: datetime, config: DeviceRulesConfig
) -> tuple[DeviceState, list[AlertCandidate]]:
    """Time passing without data: silence beyond `silence_s`, a wearable left off."""
    out: list[AlertCandidate] = []
    if (
        state.will_at is not None
        and (now - state.will_at).total_seconds() >= config.offline_grace_s
    ):
        # Stamped with the will's time, not the tick's: a replay raises the same candidate.
        offline_s = round((now - state.will_at).total_seconds())
        out.append(_disconnected(state, profile, state.will_at, config, offline_s=offline_s))
        state = replace(state, offline_open=True, will_at=None)
    if state.offline_open and state.back_at is not None:
        state, settled = _settle(state, state.back_at, profile, now, config)
        out += settled
    if (
        not state.offline_open
        and state.last_seen is not None
        and (now - state.last_seen).total_seconds() > config.silence_s
    ):
        out.append(
            _candidate(
                OFFLINE,
                "raise",
                state,
                profile,
                now,
                config.offline_severity,
                "Device silent",
                cause="silence",
                silent_s=round((now - state.last_seen).total_seconds()),
                note=SUPPRESSED_NOTE,
            )
        )
        state = replace(state, offline_open=True)
    if (
        not state.worn
        and not state.wear_off_open
        and state.wear_off_at is not None
        and (now - state.wear_off_at).total_seconds() >= config.wear_off_grace_s
    ):
        out.append(
            _candidate(
                WEAR_OFF,
                "raise",
                state,
                profile,
                now,
                "medium",
                "Wearable taken off",
                off_s=round((now - state.wear_off_at).total_seconds()),
                note=SUPPRESSED_NOTE,
            )
        )
        state = replace(state, wear_off_open=True)
    return state, out
