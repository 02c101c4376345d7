"""Falls: a streaming detector over accelerometer windows and the rule that turns its
detections and device-reported falls into alerts (cancel window, long-lie escalation).

Pure: no I/O, no logging, no clock; `now` is a parameter. Signal features: rules/fall_signal.py.

How the detector decides (per impact): free fall → impact → the body at rest elsewhere.
- candidate: |a| >= `impact_g`; of several before the body comes to rest, the largest;
- it comes to rest: a stretch of `stillness_window_s` with std|a| <= `stillness_std_g`
  starting `settle_s` to `settle_s + rest_search_s` after the impact (the first such);
- the posture changed: the mean gravity direction over that rest is >=
  `orientation_change_deg` away from the one over `pre_window_s` ending `pre_gap_s` before
  the impact (angles in the device frame: no axis needs to be "up", belt or wrist alike);
- it is not a dropped device: true free fall, then no movement beyond sensor noise.
Free fall is not required (falls from a chair or a faint have little of it); it only raises
the confidence.

Thresholds come from the literature and physics (see FallConfig) and were checked on
device_sim/motion.py's synthetic falls and daily activities; the SisFall subset
(bench/sisfall.py) came afterwards, as a held-out check. Its first run found 12/15 falls:
the detector then waited for the whole search range before deciding, which 15 s recordings
with a fall at 7.6 s never supply, and a walking step could borrow a later fall's rest. The
fix (decide at the first rest; a larger impact before the rest takes over) changed no
threshold. Those general settings apply wherever the device's placement is not declared, and
at the chest or as a pendant.

Where the device is worn is declared (`Motion.placement`): a bed sensor gets no detector, and
the wrist and waist have their own thresholds (`DEFAULT_PLACEMENTS`), chosen from real
recordings (falls-dev and SisFall SA01) by bench/falls.py, whose figures are
leave-one-subject-out (docs/detection.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from rules.fall_placement import WORN, Placement
from rules.fall_signal import (
    ImpactFeatures,
    Vector,
    angle_deg,
    impact_features,
    magnitude,
    mean_direction,
)
from rules.types import (
    AlertCandidate,
    DeviceEvent,
    Motion,
    Observation,
    ResidentProfile,
    StaffAttended,
)


class PlacementSettings(BaseModel):
    """Detector thresholds for one placement that differ from the general ones (None: the
    general value). A wrist swings, claps and knocks where a belt does not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    impact_g: float | None = Field(None, gt=1.0, le=16.0)
    orientation_change_deg: float | None = Field(None, gt=0.0, lt=180.0)
    stillness_std_g: float | None = Field(None, gt=0.0, le=1.0)
    stillness_window_s: float | None = Field(None, gt=0.0, le=10.0)
    min_descent_mps: float | None = Field(None, ge=0.0, le=10.0)
    settle_s: float | None = Field(None, ge=0.0, le=5.0)
    pre_window_s: float | None = Field(None, gt=0.0, le=5.0)
    impact_activity_k: float | None = Field(None, ge=0.0, le=20.0)

    def overrides(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


# Chosen per placement by bench/falls.py (bench/fall_candidates.py's grid) on falls-dev and
# SisFall SA01: of the candidates no less specific than the general settings, the one with
# the best sensitivity + specificity over every subject. The figures reported for this
# procedure are leave-one-subject-out (docs/detection.md). At the wrist the impact is judged
# against the activity before it (hands clap, knock and swing in series; a fall's impact
# stands out from what came before), with a smaller posture change (a forearm may end a fall
# near its old attitude) and a shorter rest (a faller's arm settles sooner than a belt):
# falls 72 -> 80 %, ADLs 85 -> 86 % on the data it was chosen on.
# At the waist the choice (45 -> 40°) did not hold up held out: the general settings stay,
# as at the chest and for a pendant, which have no real-data evidence yet.
DEFAULT_PLACEMENTS: dict[Placement, PlacementSettings] = {
    "wrist": PlacementSettings(
        impact_g=1.5, impact_activity_k=2.0, orientation_change_deg=35.0, stillness_window_s=1.0
    ),
}


class FallConfig(BaseModel):
    """Fall detector and fall rule settings; every default says why it is what it is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- detector ---
    # Published trunk/waist impact thresholds run from about 2 g (Kangas et al. 2008) to
    # 3.5 g (Bourke et al. 2007), set on young volunteers' staged falls onto mats; older
    # people's real falls differ from such simulations (Klenk et al. 2011), and a low output
    # rate blunts short peaks (averaging to 50 Hz cut SisFall F05's from 18.8 to 6.5 g). So
    # the low end: 2 g, above ordinary walking (1.2-1.6 g at the waist), leaving the
    # discrimination to posture and stillness, which ADLs with big peaks do not pass.
    impact_g: float = Field(2.0, gt=1.0, le=16.0)
    # Lower fall thresholds (|a| dips while the body drops) are about 0.4-0.6 g (Bourke et al.
    # 2007). Not required (falls from a chair and faints may barely dip); confidence only.
    free_fall_g: float = Field(0.6, gt=0.0, lt=1.0)
    # Half-way between upright (0°) and lying (90°): sitting back in a chair tilts the pelvis
    # 5-30°, lying after a fall is 70-100° from the posture before it.
    orientation_change_deg: float = Field(45.0, gt=0.0, lt=180.0)
    # The speed lost to "unweighting" before the impact (fall_signal.descent_speed): a body
    # dropping reads under 1 g for a while; a hand clapping or knocking on a table does not.
    # 0 = not required (the general setting: a faint may crumple slowly).
    min_descent_mps: float = Field(0.0, ge=0.0, le=10.0)
    # The impact relative to the activity before it: a fall needs peak / (1 + k · rms(|a| − 1)
    # over the 2.5 s before) >= impact_g. 0 = the plain peak (the general setting).
    impact_activity_k: float = Field(0.0, ge=0.0, le=20.0)
    # Gait keeps std|a| at 0.1-0.3 g at the waist (more at the wrist); a person lying on the
    # floor stays well under 0.1 g, and one who shifts about or tries to push up pauses.
    stillness_std_g: float = Field(0.1, gt=0.0, le=1.0)
    # The post-impact window: skip the rebound and the arms settling, then find the first
    # quiet stretch within a few seconds (a faint crumples, then topples; a faller may move
    # before lying still), long enough to average out breathing and small shifts.
    settle_s: float = Field(1.0, ge=0.0, le=5.0)
    rest_search_s: float = Field(5.0, ge=0.0, le=10.0)
    stillness_window_s: float = Field(1.5, gt=0.0, le=10.0)
    # The posture before: a fall's descent takes roughly 0.5-1 s, so the reference ends a
    # second before the impact and averages 1.5 s (about three steps when walking).
    pre_gap_s: float = Field(1.0, ge=0.0, le=5.0)
    pre_window_s: float = Field(1.5, gt=0.0, le=5.0)
    # A window that does not start where the previous one ended (allowing for a sample or two
    # of timestamp jitter) means lost data: the buffer starts over rather than splice.
    gap_tolerance_s: float = Field(0.1, ge=0.0, le=2.0)
    # A dropped wearable: true free fall (|a| < 0.2 g) for >= 0.2 s (a 20 cm drop: off a
    # table, out of a hand), then no movement beyond sensor noise (ratio ~1 for a device on
    # the floor; a worn one moves with breathing and pulse). A falling body is held by its
    # feet or seat until late, so even a flailing wrist is rarely ballistic that long; and
    # a person who falls out of bed (ballistic) but breathes is still a fall.
    drop_free_fall_g: float = Field(0.2, gt=0.0, lt=1.0)
    drop_free_fall_s: float = Field(0.2, gt=0.0, le=2.0)
    drop_movement_ratio: float = Field(2.0, ge=0.0, le=100.0)
    # Accelerometer rates outside this are not from a wearable; the bound also bounds state.
    max_hz: float = Field(400.0, gt=0.0, le=1000.0)

    # --- rule ---
    # Time for "I'm OK" (or for getting up) before a detection pages; 0 pages at once.
    cancel_window_s: float = Field(30.0, ge=0.0, le=600.0)
    # Still on the floor this long after the impact: escalate (a long lie is what harms).
    long_lie_s: float = Field(300.0, gt=0.0, le=24 * 3600.0)
    # Up again: the posture back within 30° of the one before the fall for 3 s, with some
    # movement (std|a| >= 0.02 g: standing people sway, a device on the floor does not).
    getup_deg: float = Field(30.0, gt=0.0, lt=90.0)
    getup_s: float = Field(3.0, gt=0.0, le=60.0)
    getup_active_std_g: float = Field(0.02, ge=0.0, le=1.0)
    # A device-reported fall and our own detection this close are the same fall (watches
    # report after their own 30-60 s countdown).
    merge_s: float = Field(60.0, ge=0.0, le=600.0)
    max_devices: int = Field(4, ge=1, le=16)
    # Per placement (wrist, waist, chest, pendant): thresholds that differ from the above.
    placements: dict[Placement, PlacementSettings] = Field(
        default_factory=lambda: dict(DEFAULT_PLACEMENTS)
    )

    # Each placement's settings merged with the general ones, built (and checked) once.
    _by_placement: dict[Placement, FallConfig] = PrivateAttr(default_factory=dict)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        # Validated again, so the merged placement settings follow the new general ones.
        return type(self).model_validate({**self.model_dump(), **(update or {})})

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for placement, settings in self.placements.items():
            if placement not in WORN:
                raise ValueError(f"placement {placement!r} has no motion detector to set")
            if settings.overrides():
                merged = {**self.model_dump(exclude={"placements"}), **settings.overrides()}
                try:
                    self._by_placement[placement] = FallConfig(**merged, placements={})
                except ValueError as e:
                    raise ValueError(f"placements.{placement}: {e}") from None
        if self.drop_free_fall_g >= self.free_fall_g:
            raise ValueError(
                f"drop_free_fall_g ({self.drop_free_fall_g}) must be below free_fall_g "
                f"({self.free_fall_g}): a dropped device is in deeper free fall than a body"
            )
        if self.getup_deg >= self.orientation_change_deg:
            raise ValueError(
                f"getup_deg ({self.getup_deg}) must be below orientation_change_deg "
                f"({self.orientation_change_deg}): one posture cannot be both fallen and up"
            )
        if self.long_lie_s <= self.cancel_window_s:
            raise ValueError(
                f"long_lie_s ({self.long_lie_s}) must be longer than cancel_window_s "
                f"({self.cancel_window_s}): the escalation comes after the first page"
            )
        return self

    def buffer_s(self) -> float:
        """How much signal the detector keeps: the posture before, the impact, the after."""
        return (
            self.pre_window_s
            + self.pre_gap_s
            + self.settle_s
            + self.rest_search_s
            + self.stillness_window_s
        )

    def buffer_samples(self, hz: float) -> int:
        return math.ceil(self.buffer_s() * hz) + 1


def detector_config(config: FallConfig, placement: Placement | None) -> FallConfig | None:
    """The detector settings for a device worn at `placement` (None: not declared, the
    general settings), or None where motion is no evidence of a fall (a bed sensor)."""
    if placement is None:
        return config
    if placement not in WORN:
        return None
    return config._by_placement.get(placement, config)


# --- detector ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FallDetection:
    """One fall the detector found; `ts` is the impact. `pre_gravity` (device frame) is the
    posture before the fall, which the rule compares against to see the resident up again."""

    ts: datetime
    device_id: str
    peak_g: float
    orientation_change_deg: float
    stillness_std_g: float
    free_fall_min_g: float
    descent_mps: float
    confidence: float
    pre_gravity: Vector


def _empty() -> NDArray[np.float32]:
    return np.zeros((0, 3), dtype=np.float32)


@dataclass(frozen=True, slots=True, eq=False)
class FallDetectorState:
    """One device's detector: the last `FallConfig.buffer_s()` seconds of samples (10 s by
    default, 3 float32 each: 6 kB at 50 Hz, 24 kB at 200 Hz, at most 48 kB at `max_hz` 400),
    where the current continuous run started, and where the search for impacts has got to."""

    device_id: str = ""
    hz: float = 0.0
    origin: datetime | None = None  # time of sample 0 of the current run
    count: int = 0  # samples seen in the current run
    buffer: NDArray[np.float32] = field(default_factory=_empty)  # the last ones, read-only
    scan_from: int = 0  # first sample (run index) not yet ruled out as an impact

    @property
    def next_ts(self) -> datetime | None:
        """When the next window should start if nothing is lost."""
        if self.origin is None:
            return None
        return self.origin + timedelta(seconds=self.count / self.hz)

    @property
    def nbytes(self) -> int:
        return int(self.buffer.nbytes)

    def time_of(self, index: int) -> datetime:
        assert self.origin is not None
        return self.origin + timedelta(seconds=index / self.hz)


def _samples(window: Motion, max_hz: float) -> NDArray[np.float64] | None:
    n = len(window.ax)
    if n == 0 or len(window.ay) != n or len(window.az) != n:
        return None
    if not (math.isfinite(window.hz) and 0 < window.hz <= max_hz):
        return None
    samples = np.column_stack([window.ax, window.ay, window.az]).astype(np.float64)
    if not np.isfinite(samples).all():
        return None
    return samples


def detect_step(
    state: FallDetectorState, window: Motion, *, config: FallConfig
) -> tuple[FallDetectorState, list[FallDetection]]:
    """Feed one device's next window; returns the new state and the falls it completed.

    A fall is reported once the body has come to rest after the impact: `settle_s +
    stillness_window_s` after it at the earliest (2.5 s by default), `rest_search_s` later at
    the latest, in whichever window that arrives; the result does not depend on how the
    signal is cut into windows. A window that
    does not continue the previous one (gap, overlap, other rate or device) starts a new
    run; an unusable one (bad lengths, non-finite values, rate out of range) is dropped and
    also resets, since the signal is no longer continuous.
    """
    samples = _samples(window, config.max_hz)
    if samples is None:
        return FallDetectorState(device_id=window.device_id), []
    expected = state.next_ts
    continues = (
        expected is not None
        and state.device_id == window.device_id
        and state.hz == window.hz
        and abs((window.ts - expected).total_seconds()) <= config.gap_tolerance_s
    )
    hz = window.hz
    if continues:
        # Re-anchor on the device's own timestamp so rate drift does not accumulate.
        origin = window.ts - timedelta(seconds=state.count / hz)
        buf = np.concatenate([state.buffer.astype(np.float64), samples])
        base = state.count - len(state.buffer)  # run index of buf[0]
        scan = state.scan_from
    else:
        origin, buf, base, scan = window.ts, samples, 0, 0
    count = base + len(buf)
    run = FallDetectorState(window.device_id, hz, origin, count, _empty(), scan)
    scan, detections = _scan(run, buf, base, scan, config)
    keep = buf[-config.buffer_samples(hz) :].astype(np.float32)
    keep.flags.writeable = False
    return replace(run, buffer=keep, scan_from=scan), detections


def _scan(
    run: FallDetectorState,
    buf: NDArray[np.float64],
    base: int,
    scan: int,
    config: FallConfig,
) -> tuple[int, list[FallDetection]]:
    """Assess every sample >= impact_g from `scan` on, in order. Knees, hip and shoulder may
    each hit: the largest impact before the body comes to rest is the fall's (the smaller
    ones give way to it); after a fall, its rebounds and struggling are not new falls."""
    mag = magnitude(buf)
    found: list[FallDetection] = []
    i = max(scan, base)
    while True:
        above = np.flatnonzero(mag[i - base :] >= config.impact_g)
        if len(above) == 0:
            return max(i, run.count), found
        peak = i + int(above[0])
        outcome = impact_features(
            buf,
            peak - base,
            run.hz,
            pre_gap_s=config.pre_gap_s,
            pre_window_s=config.pre_window_s,
            settle_s=config.settle_s,
            rest_search_s=config.rest_search_s,
            still_window_s=config.stillness_window_s,
            still_std_g=config.stillness_std_g,
            ballistic_g=config.drop_free_fall_g,
            mag=mag,
        )
        if outcome == "wait":
            return peak, found
        if outcome is not None and is_fall(outcome, config):
            found.append(_detection(run, peak, outcome, config))
            i = base + outcome.rest_end
        else:
            i = peak + 1


def is_fall(f: ImpactFeatures, config: FallConfig) -> bool:
    """The decision, given an impact >= impact_g: lying somewhere else, not moving on, and
    not a dropped device."""
    dropped = (
        f.ballistic_s >= config.drop_free_fall_s and f.post_movement <= config.drop_movement_ratio
    )
    return (
        f.peak_g / (1.0 + config.impact_activity_k * f.pre_activity_g) >= config.impact_g
        and f.orientation_change_deg >= config.orientation_change_deg
        and f.descent_mps >= config.min_descent_mps
        and f.post_std_g <= config.stillness_std_g
        and not dropped
    )


def confidence(f: ImpactFeatures, config: FallConfig) -> float:
    """0..1, the mean of four scores that are 0.5 at their threshold and 1 at twice as clear:
    impact, free fall, posture change and stillness. Informative only; it decides nothing."""

    def score(value: float) -> float:
        return float(np.clip(value, 0.0, 1.0))

    return (
        score((f.peak_g - 1) / (2 * (config.impact_g - 1)))
        + score((1 - f.free_fall_min_g) / (2 * (1 - config.free_fall_g)))
        + score(f.orientation_change_deg / (2 * config.orientation_change_deg))
        + score(1 - f.post_std_g / (2 * config.stillness_std_g))
    ) / 4


def _detection(
    run: FallDetectorState, peak: int, f: ImpactFeatures, config: FallConfig
) -> FallDetection:
    return FallDetection(
        ts=run.time_of(peak),
        device_id=run.device_id,
        peak_g=round(f.peak_g, 3),
        orientation_change_deg=round(f.orientation_change_deg, 1),
        stillness_std_g=round(f.post_std_g, 4),
        free_fall_min_g=round(f.free_fall_min_g, 3),
        descent_mps=round(f.descent_mps, 2),
        confidence=round(confidence(f, config), 2),
        pre_gravity=f.pre_gravity,
    )


def posture_before(state: FallDetectorState, ts: datetime, *, config: FallConfig) -> Vector | None:
    """The device-frame posture before an impact at `ts`, if the buffer still holds it."""
    if state.origin is None or len(state.buffer) == 0:
        return None
    base = state.count - len(state.buffer)
    at = round((ts - state.origin).total_seconds() * state.hz) - base
    end = at - round(config.pre_gap_s * state.hz)
    start = end - round(config.pre_window_s * state.hz)
    if start < 0 or end > len(state.buffer):
        return None
    return mean_direction(state.buffer[start:end])


# --- rule -------------------------------------------------------------------------------------

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
    samples = _samples(window, config.max_hz)
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
