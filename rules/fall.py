"""Falls: the rule that turns the detector's detections and device-reported falls into
alerts (cancel window, long-lie escalation, get-up tracking), per resident.

Pure: no I/O, no logging, no clock; `now` is a parameter. The detector itself:
rules/fall_detector.py (signal features: rules/fall_signal.py); settings: rules/fall_config.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from rules.fall_config import FallConfig, detector_config
from rules.fall_detector import (
    FallDetection,
    FallDetectorState,
    detect_step,
    posture_before,
    window_samples,
)
from rules.fall_signal import Vector, angle_deg, magnitude, mean_direction
from rules.types import (
    AlertCandidate,
    DeviceEvent,
    Motion,
    Observation,
    ResidentProfile,
    StaffAttended,
)

FallSource = Literal["device", "motion"]
DEDUPE_PREFIX = "fall:"  # one alert per fall: "fall:resident:42"
_SILENT_S = 60.0  # no motion window for this long: the long-lie page says the data stopped


@dataclass(frozen=True, slots=True)
class FallIncident:
    """The current (or last) fall of a resident."""

    impact_ts: datetime
    source: FallSource
    device_id: str
    peak_g: float | None = None
    orientation_change_deg: float | None = None
    confidence: float | None = None
    reference: Vector | None = None  # posture before the fall, `device_id`'s frame
    raised: bool = False
    long_lie_raised: bool = False
    closed_at: datetime | None = None  # "I'm OK", or the resident seen up: nothing more to do
    upright_s: float = 0.0  # how long the resident has been back upright (get-up tracking)
    moved: bool = False  # ... and whether they moved meanwhile
    seen_until: datetime | None = None  # end of the last motion window from `device_id`

    @property
    def rule_id(self) -> str:
        return f"fall.{self.source}"

    @property
    def closed(self) -> bool:
        return self.closed_at is not None


@dataclass(frozen=True, slots=True, eq=False)
class FallRuleState:
    """Per resident: a detector per worn device (at most `max_devices`, least recently seen
    dropped first) and at most one fall incident."""

    detectors: tuple[FallDetectorState, ...] = ()
    incident: FallIncident | None = None

    @property
    def nbytes(self) -> int:
        return sum(d.nbytes for d in self.detectors)


def fall_rule_step(
    state: FallRuleState,
    observation: Observation,
    *,
    profile: ResidentProfile,
    now: datetime,
    config: FallConfig,
) -> tuple[FallRuleState, list[AlertCandidate]]:
    """Feed one observation of the resident (motion windows and device events count; the rest
    only advance time)."""
    out: list[AlertCandidate] = []
    incident = state.incident
    detectors = state.detectors
    if isinstance(observation, Motion):
        detections: list[FallDetection] = []
        settings = detector_config(config, observation.placement)
        others = tuple(d for d in detectors if d.device_id != observation.device_id)
        if settings is None:
            # Motion here is no evidence of a fall (a bed sensor): no detector for it.
            detectors = others
        else:
            current = next((d for d in detectors if d.device_id == observation.device_id), None)
            detector, detections = detect_step(
                current or FallDetectorState(device_id=observation.device_id),
                observation,
                config=settings,
            )
            detectors = (*others, detector)[-config.max_devices :]
        if incident is not None:
            incident, out = _track_recovery(incident, observation, profile, config)
        for detection in detections:
            incident, more = _on_detection(incident, detection, profile, config)
            out += more
    elif isinstance(observation, DeviceEvent) and observation.type == "fall":
        reference = next(
            (
                posture_before(d, observation.ts, config=config)
                for d in detectors
                if d.device_id == observation.device_id
            ),
            None,
        )
        incident, out = _on_device_fall(incident, observation, reference, profile, config)
    incident, more = _advance(incident, profile, now, config)
    return FallRuleState(detectors, incident), out + more


def fall_rule_tick(
    state: FallRuleState, *, profile: ResidentProfile, now: datetime, config: FallConfig
) -> tuple[FallRuleState, list[AlertCandidate]]:
    """Time passes without data: a pending fall still pages, a long lie still escalates (a
    device that went silent after an impact has not shown anyone getting up)."""
    incident, out = _advance(state.incident, profile, now, config)
    return FallRuleState(state.detectors, incident), out


def cancel_pending(state: FallRuleState, now: datetime) -> FallRuleState:
    """The resident (on the device) or a caregiver said "I'm OK": a pending fall will not page
    and a raised one will not escalate to a long lie. The alert itself is the alert service's
    to resolve."""
    incident = state.incident
    if incident is None or incident.closed:
        return state
    return FallRuleState(state.detectors, replace(incident, closed_at=now))


def fall_attended(
    state: FallRuleState, attended: StaffAttended, *, config: FallConfig
) -> FallRuleState:
    """Staff acknowledged or resolved this fall's alert: a person is with the resident (or has
    helped them up), so it will not escalate to a long lie, nor send "up again" to an alert
    staff may already have closed. An action on an earlier fall leaves a new one alone."""
    incident = state.incident
    if incident is None or not _same_fall(incident, attended.condition_ts, config):
        return state
    return cancel_pending(state, attended.ts)


def _candidate(
    incident: FallIncident,
    profile: ResidentProfile,
    *,
    rule_id: str,
    action: Literal["raise", "update"],
    title: str,
    severity: Literal["high", "critical"] = "high",
    extra: dict[str, float | str] | None = None,
    suggestion: str | None = None,
) -> AlertCandidate:
    values: dict[str, float | str] = {
        "device_id": incident.device_id,
        "impact_ts": incident.impact_ts.isoformat(),
    }
    for name in ("peak_g", "orientation_change_deg", "confidence"):
        value = getattr(incident, name)
        if value is not None:
            values[name] = value
    values.update(extra or {})
    return AlertCandidate(
        rule_id=rule_id,
        action=action,
        subject=profile.subject,
        dedupe_key=f"{DEDUPE_PREFIX}{profile.subject}",
        severity=severity,
        ts=incident.impact_ts,
        title=title,
        values=values,
        suggestion=suggestion,
    )


def _same_fall(incident: FallIncident | None, ts: datetime, config: FallConfig) -> bool:
    return incident is not None and abs((ts - incident.impact_ts).total_seconds()) <= config.merge_s


def _on_detection(
    incident: FallIncident | None,
    d: FallDetection,
    profile: ResidentProfile,
    config: FallConfig,
) -> tuple[FallIncident | None, list[AlertCandidate]]:
    # A detection of an impact before the incident was closed is this fall seen late or by a
    # second device; one after it is a new fall (up again, and down again).
    if (
        incident is not None
        and _same_fall(incident, d.ts, config)
        and (incident.closed_at is None or d.ts <= incident.closed_at)
    ):
        if incident.reference is None:  # the device reported it first: learn the posture
            incident = replace(
                incident,
                device_id=d.device_id,
                peak_g=d.peak_g,
                orientation_change_deg=d.orientation_change_deg,
                reference=d.pre_gravity,
            )
        return incident, []
    new = FallIncident(
        impact_ts=d.ts,
        source="motion",
        device_id=d.device_id,
        peak_g=d.peak_g,
        orientation_change_deg=d.orientation_change_deg,
        confidence=d.confidence,
        reference=d.pre_gravity,
    )
    if config.cancel_window_s > 0:
        return new, []
    new = replace(new, raised=True)
    return new, [_raise_fall(new, profile)]


def _on_device_fall(
    incident: FallIncident | None,
    event: DeviceEvent,
    reference: Vector | None,
    profile: ResidentProfile,
    config: FallConfig,
) -> tuple[FallIncident | None, list[AlertCandidate]]:
    """A device's own fall detection has had its own countdown: it pages at once, unless this
    fall has paged already (then it is the same fall seen twice)."""
    if incident is not None and _same_fall(incident, event.ts, config):
        if incident.raised:
            return incident, []
        # Our detection was pending (or the resident seemed to get up): the device says fall.
        incident = replace(incident, source="device", raised=True, closed_at=None)
        return incident, [_raise_fall(incident, profile)]
    new = FallIncident(
        impact_ts=event.ts,
        source="device",
        device_id=event.device_id,
        confidence=event.confidence,
        reference=reference,
        raised=True,
    )
    return new, [_raise_fall(new, profile)]


def _raise_fall(incident: FallIncident, profile: ResidentProfile) -> AlertCandidate:
    title = "Fall reported by device" if incident.source == "device" else "Fall detected"
    return _candidate(incident, profile, rule_id=incident.rule_id, action="raise", title=title)


def _track_recovery(
    incident: FallIncident, window: Motion, profile: ResidentProfile, config: FallConfig
) -> tuple[FallIncident, list[AlertCandidate]]:
    """Watch the fallen resident's device for them getting up: second by second, the posture
    back near the one before the fall, for `getup_s`, with some movement."""
    reference = incident.reference
    if incident.closed or reference is None or window.device_id != incident.device_id:
        return incident, []
    samples = window_samples(window, config.max_hz)
    if samples is None:
        return incident, []
    hz = window.hz
    step = max(1, round(hz))
    incident = replace(incident, seen_until=window.ts + timedelta(seconds=len(samples) / hz))
    settled = incident.impact_ts + timedelta(seconds=config.settle_s)
    upright_s, moved = incident.upright_s, incident.moved
    for start in range(0, len(samples), step):
        chunk = samples[start : start + step]
        if len(chunk) < step / 2 or window.ts + timedelta(seconds=start / hz) < settled:
            continue
        direction = mean_direction(chunk)
        if direction is None or angle_deg(direction, reference) > config.getup_deg:
            upright_s, moved = 0.0, False
            continue
        upright_s += len(chunk) / hz
        moved = moved or float(magnitude(chunk).std()) >= config.getup_active_std_g
        if upright_s >= config.getup_s and moved:
            seen = window.ts + timedelta(seconds=(start + len(chunk)) / hz)
            up = replace(incident, closed_at=seen, upright_s=upright_s, moved=moved)
            if not incident.raised:
                return up, []  # cancelled before it paged
            rule_id = "fall.long_lie" if incident.long_lie_raised else incident.rule_id
            after = (seen - incident.impact_ts).total_seconds()
            return up, [
                _candidate(
                    up,
                    profile,
                    rule_id=rule_id,
                    action="update",
                    title="Up again after the fall",
                    severity="critical" if incident.long_lie_raised else "high",
                    extra={"recovered_after_s": round(after, 1)},
                )
            ]
    return replace(incident, upright_s=upright_s, moved=moved), []


def _advance(
    incident: FallIncident | None, profile: ResidentProfile, now: datetime, config: FallConfig
) -> tuple[FallIncident | None, list[AlertCandidate]]:
    if incident is None:
        return None, []
    since = (now - incident.impact_ts).total_seconds()
    if incident.closed:
        # Kept only to recognise a late report of the same fall.
        return (None if since > config.merge_s else incident), []
    out: list[AlertCandidate] = []
    if not incident.raised and since >= config.cancel_window_s:
        incident = replace(incident, raised=True)
        out.append(_raise_fall(incident, profile))
    if incident.raised and not incident.long_lie_raised and since >= config.long_lie_s:
        incident = replace(incident, long_lie_raised=True)
        minutes = config.long_lie_s / 60
        # Say whether the device still shows the resident down or has gone quiet.
        seen = incident.seen_until
        silent = seen is None or (now - seen).total_seconds() > _SILENT_S
        title = (
            f"No sign of getting up {minutes:g} min after a fall (no motion data)"
            if silent
            else f"Still down {minutes:g} min after a fall"
        )
        extra: dict[str, float | str] = {"long_lie_s": config.long_lie_s}
        if seen is not None:
            extra["motion_seen_until"] = seen.isoformat()
        out.append(
            _candidate(
                incident,
                profile,
                rule_id="fall.long_lie",
                # The same fall alert (same dedupe key), escalated: not a second page.
                action="update",
                title=title,
                severity="critical",
                extra=extra,
                # Unable to get up is the fall "with suspected injury" (and a long lie harms by
                # itself): offer the green-channel referral for a nurse to confirm.
                suggestion="referral",
            )
        )
    return incident, out
