"""The rule engine: every rule, per resident and per unit, over one stream of observations.

Pure like the rules it composes: observations and `now` in, alert candidates out; the state
is plain data (picklable) so the detector can snapshot it. The detector and the evaluation
harness both drive this same class.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import Field

from rules.baseline import BaselineState, baseline_step
from rules.baseline_config import BaselineConfig
from rules.bed import BedRulesConfig, BedState, bed_step, bed_tick, note_activity, note_motion
from rules.config import RuleConfig, with_overrides
from rules.devices import DeviceRulesConfig, DeviceState, device_step, device_tick
from rules.fall import (
    DEDUPE_PREFIX,
    FallRuleState,
    cancel_pending,
    fall_attended,
    fall_rule_step,
    fall_rule_tick,
)
from rules.fall_config import FallConfig
from rules.news2 import (
    PARAMETERS,
    DeviceHistory,
    News2Config,
    News2State,
    Scale,
    news2_step,
    note_reading,
    resting_value,
    smooths,
    sub_score,
)
from rules.news2 import note_motion as note_news2_motion
from rules.outbreak import OutbreakConfig, OutbreakState, outbreak_step
from rules.outbreak_site import (
    SiteClustersConfig,
    SiteClusterState,
    SiteIndex,
    SiteSyndrome,
    cases_behind,
    site_index,
    sites_step,
)
from rules.outbreak_syndromes import (
    SYNDROMES,
    Case,
    ClusterState,
    Person,
    SignReport,
    Syndrome,
    SyndromesConfig,
    syndrome_step,
)
from rules.sos import sos_step
from rules.types import (
    AlertCandidate,
    DeviceEvent,
    DeviceStatus,
    Motion,
    Observation,
    ResidentProfile,
    StaffAttended,
    Vital,
)
from rules.vitals import VitalsRuleState, vitals_step, vitals_suppress
from rules.vitals_config import VitalsConfig
from rules.vocabulary import BED_FIELDS, VITAL_SIGNS
from rules.wandering import WanderingConfig, WanderingState, wandering_step

NEWS2_PARAMETERS = frozenset(PARAMETERS)
# A NEWS2 rule with no alert open and nothing held (what it starts as).
NEWS2_IDLE = News2State()
# What only a bed sensor measures (its hr and rr are vital signs like any other).
BED_METRICS = frozenset(BED_FIELDS) - frozenset(VITAL_SIGNS)
# A worn accelerometer whose magnitude varies this much (g, standard deviation over a
# window) shows the resident moving: enough to end "no activity for hours".
ACTIVE_MOTION_STD_G = 0.05


class RulesConfig(RuleConfig):
    """Every rule's configuration; a site's and a resident's overrides merge into it."""

    vitals: VitalsConfig = Field(default_factory=VitalsConfig)
    news2: News2Config = Field(default_factory=News2Config)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    fall: FallConfig = Field(default_factory=FallConfig)
    devices: DeviceRulesConfig = Field(default_factory=DeviceRulesConfig)
    bed: BedRulesConfig = Field(default_factory=BedRulesConfig)
    wandering: WanderingConfig = Field(default_factory=WanderingConfig)
    outbreak: OutbreakConfig = Field(default_factory=OutbreakConfig)
    syndromes: SyndromesConfig = Field(default_factory=SyndromesConfig)
    sites: SiteClustersConfig = Field(default_factory=SiteClustersConfig)
    # NEWS2 is re-scored when a parameter's chart score moves, and otherwise at ticks this
    # far apart (staleness and the rule's timers): inputs change every second, bands do not.
    news2_every_s: float = Field(default=5.0, gt=0, le=30)


@dataclass(slots=True)
class ResidentRules:
    """One resident's rule states (each an immutable value, replaced as rules step)."""

    profile: ResidentProfile
    config: RulesConfig
    latest: dict[str, Vital] = field(default_factory=dict)  # freshest NEWS2 parameters
    vitals: VitalsRuleState = field(default_factory=VitalsRuleState.empty)
    news2: News2State = field(default_factory=News2State)
    news2_at: datetime | None = None
    news2_streams: DeviceHistory = field(default_factory=DeviceHistory)  # what NEWS2 smooths
    baseline: BaselineState = field(default_factory=BaselineState)
    fall: FallRuleState = field(default_factory=FallRuleState)
    bed: BedState = field(default_factory=BedState)
    wandering: WanderingState = field(default_factory=WanderingState)
    devices: dict[str, DeviceState] = field(default_factory=dict)


class _Resting(NamedTuple):
    """What one streamed NEWS2 parameter counted as (`resting_value`), from what, since when
    and until when it holds; compared by identity: the stream's tuples are never mutated."""

    readings: tuple[Vital, ...] | None
    moving: tuple[tuple[datetime, datetime], ...]
    current: Vital | None
    config: News2Config
    since: datetime
    until: datetime | None
    counted: Vital | None


def motion_is_active(window: Motion) -> bool:
    n = len(window.ax)
    if n < 2:
        return False
    mags = [
        math.sqrt(x * x + y * y + z * z)
        for x, y, z in zip(window.ax, window.ay, window.az, strict=True)
    ]
    mean = sum(mags) / n
    return math.sqrt(sum((m - mean) ** 2 for m in mags) / n) >= ACTIVE_MOTION_STD_G


class Engine:
    def __init__(self, config: RulesConfig | None = None) -> None:
        self.config = config or RulesConfig()
        self.residents: dict[int, ResidentRules] = {}
        self.units: dict[tuple[str, str], OutbreakState] = {}
        # Syndromic clusters by (site, unit, syndrome).
        self.clusters: dict[tuple[str, str, Syndrome], ClusterState] = {}
        # Clusters of a whole site by (site, syndrome), over the units' cases.
        self.sites: dict[tuple[str, SiteSyndrome], SiteClusterState] = {}
        # Not rule state (never snapshotted): what each streamed NEWS2 parameter of a resident
        # counts as, while valid.
        self._resting: dict[int, dict[str, _Resting]] = {}

    # --- residents ---------------------------------------------------------------------------

    def set_resident(
        self, profile: ResidentProfile, overrides: Mapping[str, Any] | None = None
    ) -> ResidentRules:
        """Add a resident, or update their profile and overrides keeping their rule state.
        Bad overrides raise OverrideError naming the key."""
        config = with_overrides(self.config, overrides) if overrides else self.config
        rules = self.residents.get(profile.resident_id)
        if rules is None:
            rules = ResidentRules(profile, config)
            self.residents[profile.resident_id] = rules
        else:
            rules.profile, rules.config = profile, config
        return rules

    # --- the stream --------------------------------------------------------------------------

    def observe(self, resident_id: int, obs: Observation, *, now: datetime) -> list[AlertCandidate]:
        """One observation attributed to a resident (unknown residents are ignored)."""
        r = self.residents.get(resident_id)
        if r is None:
            return []
        out: list[AlertCandidate] = []
        suppressed = False
        device_id = obs.device_id
        if device_id is not None:
            device = r.devices.get(device_id) or DeviceState(device_id)
            device, found = device_step(device, obs, profile=r.profile, config=r.config.devices)
            r.devices[device_id] = device
            out += found
            suppressed = device.vitals_suppressed
            if suppressed and found:
                r.vitals = vitals_suppress(r.vitals)
        if isinstance(obs, Vital):
            out += self._vital(r, obs, now=now, suppressed=suppressed)
        elif isinstance(obs, Motion):
            r.fall, found = fall_rule_step(
                r.fall, obs, profile=r.profile, now=now, config=r.config.fall
            )
            out += found
            r.bed = note_motion(r.bed, obs.ts, config=r.config.bed)
            if motion_is_active(obs):
                end = obs.ts + timedelta(seconds=len(obs.ax) / obs.hz)
                r.news2_streams = note_news2_motion(
                    r.news2_streams, obs.ts, end, config=r.config.news2
                )
                r.bed, found = note_activity(r.bed, obs.ts, profile=r.profile, config=r.config.bed)
                out += found
        elif isinstance(obs, DeviceEvent):
            out += self._event(r, obs, now=now)
        elif isinstance(obs, DeviceStatus) and obs.online is False:
            r.vitals = vitals_suppress(r.vitals)
        return out

    def _vital(
        self, r: ResidentRules, vital: Vital, *, now: datetime, suppressed: bool
    ) -> list[AlertCandidate]:
        out: list[AlertCandidate] = []
        cfg = r.config
        if vital.metric in BED_METRICS:
            r.bed, found = bed_step(r.bed, vital, profile=r.profile, config=cfg.bed)
            out += found
        # Readings from a device off the wrist (or just back from offline) are not evidence.
        r.vitals, found = vitals_step(
            r.vitals, vital, profile=r.profile, now=now, config=cfg.vitals, suppressed=suppressed
        )
        out += found
        if suppressed:
            return out
        r.baseline, found = baseline_step(
            r.baseline, vital, profile=r.profile, now=now, config=cfg.baseline
        )
        out += found
        for candidate in found:
            if candidate.rule_id == "fever" and candidate.action == "raise":
                out += self._fever_onset(r.profile, candidate, now=now)
        if vital.metric in NEWS2_PARAMETERS:
            r.news2_streams = note_reading(r.news2_streams, vital, config=cfg.news2)
            previous = r.latest.get(vital.metric)
            if previous is None or vital.ts >= previous.ts:
                r.latest[vital.metric] = vital
                # Re-score at once when the chart score moved (persistence timers start
                # when the band changes); time alone is the tick's business.
                if previous is None or self._chart_moved(r, previous, vital):
                    out += self._news2(r, now=now)
        return out

    @staticmethod
    def _chart_moved(r: ResidentRules, previous: Vital, vital: Vital) -> bool:
        on_o2 = r.latest.get("on_o2")
        oxygen = on_o2 is not None and on_o2.value == 1
        scale = r.profile.news2_scale
        try:
            return sub_score(vital.metric, vital.value, scale=scale, on_oxygen=oxygen) != (  # type: ignore[arg-type]
                sub_score(previous.metric, previous.value, scale=scale, on_oxygen=oxygen)  # type: ignore[arg-type]
            )
        except ValueError:
            return True  # unscorable: let compute_news2 say so

    def _event(
        self, r: ResidentRules, event: DeviceEvent, *, now: datetime
    ) -> list[AlertCandidate]:
        cfg = r.config
        if event.type == "sos":
            return sos_step(event, profile=r.profile)
        if event.type == "fall":
            r.fall, found = fall_rule_step(
                r.fall, event, profile=r.profile, now=now, config=cfg.fall
            )
            return found
        if event.type in ("bed_exit", "bed_enter"):
            r.bed, found = bed_step(r.bed, event, profile=r.profile, config=cfg.bed)
            return found
        if event.type in ("zone_exit", "zone_enter"):
            r.wandering, found = wandering_step(
                r.wandering, event, profile=r.profile, config=cfg.wandering
            )
            r.bed, activity = note_activity(r.bed, event.ts, profile=r.profile, config=cfg.bed)
            return found + activity
        return []

    def _news2(self, r: ResidentRules, *, now: datetime) -> list[AlertCandidate]:
        r.news2_at = now
        # A device's stream counts as its resting median (rules/news2/continuous.py).
        scored = self._resting_view(r, now=now)
        if r.news2 == NEWS2_IDLE and _only_low(scored, r.profile.news2_scale, now):
            # news2_step would score "low" (or prove nothing) and stay idle: most residents,
            # most of the time, and scoring is the costliest step of a reading.
            return []
        r.news2, found = news2_step(
            r.news2, scored, profile=r.profile, now=now, config=r.config.news2
        )
        return found

    def _resting_view(self, r: ResidentRules, *, now: datetime) -> dict[str, Vital]:
        # A parameter's resting value changes only with its own readings, the motion, the
        # configuration or a reading going out of date: re-scores (every few readings, and at
        # ticks) recompute only the parameters whose stream moved.
        view = dict(r.latest)
        cfg = r.config.news2
        if not smooths(cfg):
            return view
        kept = self._resting.setdefault(r.profile.resident_id, {})
        history = r.news2_streams
        for parameter in cfg.continuous.parameters:
            current = r.latest.get(parameter)
            readings = history.readings.get(parameter)
            old = kept.get(parameter)
            if (
                old is None
                or old.readings is not readings
                or old.current is not current
                or old.moving is not history.moving
                or old.config is not cfg
                or now < old.since
                or (old.until is not None and now >= old.until)
            ):
                counted, until = resting_value(parameter, current, history, now=now, config=cfg)
                old = _Resting(readings, history.moving, current, cfg, now, until, counted)
                kept[parameter] = old
            if old.counted is not None:
                view[parameter] = old.counted
        return view

    def _fever_onset(
        self, profile: ResidentProfile, fever: AlertCandidate, *, now: datetime
    ) -> list[AlertCandidate]:
        key = (profile.site_id, profile.unit_id)
        state, found = outbreak_step(
            self.units.get(key, OutbreakState()),
            (profile.resident_id, fever.ts),
            site_id=profile.site_id,
            unit_id=profile.unit_id,
            now=now,
            config=self.config.outbreak,
        )
        self.units[key] = state
        temp = fever.values.get("temp")
        report = SignReport(
            "resident",
            profile.resident_id,
            fever.ts,
            frozenset({"fever"}),
            temp if isinstance(temp, float) else None,
        )
        return found + self.signs(profile.site_id, profile.unit_id, report, now=now)

    # --- symptoms and syndromic clusters -------------------------------------------------------

    def symptoms(
        self, resident_id: int, ts: datetime, symptoms: frozenset[str], *, now: datetime
    ) -> list[AlertCandidate]:
        """Symptoms charted for a resident on a round (unknown residents are ignored)."""
        r = self.residents.get(resident_id)
        if r is None:
            return []
        report = SignReport("resident", resident_id, ts, symptoms)
        return self.signs(r.profile.site_id, r.profile.unit_id, report, now=now)

    def signs(
        self, site_id: str, unit_id: str, report: SignReport, *, now: datetime
    ) -> list[AlertCandidate]:
        """A person of a unit (a resident, or staff working there) showed signs."""
        out: list[AlertCandidate] = []
        for syndrome in SYNDROMES:
            config = self.config.syndromes.of(syndrome)
            key = (site_id, unit_id, syndrome)
            # Other signs matter only to a unit with cases (they go on their line list).
            if not report.signs & config.signs and key not in self.clusters:
                continue
            self.clusters[key], found = syndrome_step(
                self.clusters.get(key, ClusterState()),
                report,
                syndrome=syndrome,
                site_id=site_id,
                unit_id=unit_id,
                now=now,
                config=config,
            )
            out += found
        return out + self._site(site_id, now=now)

    def _site(
        self, site_id: str, *, now: datetime, index: SiteIndex | None = None
    ) -> list[AlertCandidate]:
        index = index or site_index(self.units, self.clusters)
        states, found = sites_step(self.sites, site_id, index, now=now, config=self.config.sites)
        self.sites.update(states)
        return found

    def cases_of(self, candidate: AlertCandidate) -> tuple[str, Mapping[Person, Case]] | None:
        """The syndrome and the cases behind an outbreak alert (its case file's line list),
        or None if it is not one."""
        return cases_behind(candidate, self.units, self.clusters, self.sites)

    # --- time --------------------------------------------------------------------------------

    def tick(self, *, now: datetime) -> list[AlertCandidate]:
        """Time passing with or without data: silences, pending falls, bed exits, NEWS2
        staleness and clear windows, expiring clusters. Call it every second or so."""
        out: list[AlertCandidate] = []
        for r in self.residents.values():
            out += self.tick_resident(r, now=now)
        return out + self.tick_units(now=now)

    def tick_units(self, *, now: datetime) -> list[AlertCandidate]:
        """Let unit-level windows expire (a fever cluster clears when its window passes)."""
        out: list[AlertCandidate] = []
        for (site_id, unit_id), state in list(self.units.items()):
            state, found = outbreak_step(
                state,
                None,
                site_id=site_id,
                unit_id=unit_id,
                now=now,
                config=self.config.outbreak,
            )
            self.units[(site_id, unit_id)] = state
            out += found
        for key, cluster in list(self.clusters.items()):
            site_id, unit_id, syndrome = key
            self.clusters[key], found = syndrome_step(
                cluster,
                None,
                syndrome=syndrome,
                site_id=site_id,
                unit_id=unit_id,
                now=now,
                config=self.config.syndromes.of(syndrome),
            )
            out += found
        index = site_index(self.units, self.clusters)
        for site_id in sorted(index.keys() | {site for site, _ in self.sites}):
            out += self._site(site_id, now=now, index=index)
        return out

    def tick_resident(self, r: ResidentRules, *, now: datetime) -> list[AlertCandidate]:
        out: list[AlertCandidate] = []
        cfg = r.config
        for device_id, device in r.devices.items():
            device, found = device_tick(device, profile=r.profile, now=now, config=cfg.devices)
            r.devices[device_id] = device
            if found:
                out += found
                if device.vitals_suppressed:
                    r.vitals = vitals_suppress(r.vitals)
        r.bed, found = bed_tick(r.bed, profile=r.profile, now=now, config=cfg.bed)
        out += found
        r.fall, found = fall_rule_tick(r.fall, profile=r.profile, now=now, config=cfg.fall)
        out += found
        if r.latest and (
            r.news2_at is None or (now - r.news2_at).total_seconds() >= cfg.news2_every_s
        ):
            out += self._news2(r, now=now)
        return out

    def attend(self, resident_id: int, attended: StaffAttended) -> None:
        """Staff acknowledged or resolved one of the resident's alerts: the rules whose
        timers assume nobody came (a fall's long lie) learn that somebody did."""
        r = self.residents.get(resident_id)
        if r is None:
            return
        if attended.dedupe_key.startswith(DEDUPE_PREFIX):
            r.fall = fall_attended(r.fall, attended, config=r.config.fall)

    def cancel_fall(self, resident_id: int, *, now: datetime) -> None:
        """ "I'm OK" from the resident or a caregiver: a pending fall will not page."""
        r = self.residents.get(resident_id)
        if r is not None:
            r.fall = cancel_pending(r.fall, now)


def _only_low(scored: Mapping[str, Vital], scale: Scale, now: datetime) -> bool:
    """Whether NEWS2 from `scored` at `now` is "low" or proves nothing above it, whichever
    values count (fresh, in their observation interval): an upper bound, every value counted
    and SpO2 scored on oxygen if oxygen is charted, since a value that does not count, or
    air, never adds points. False where compute_news2 must refuse (a naive time)."""
    if now.utcoffset() is None:
        return False
    on_o2 = scored.get("on_o2")
    oxygen = on_o2 is not None and on_o2.value == 1
    total = top = 0
    for parameter in PARAMETERS:
        reading = scored.get(parameter)
        if reading is None:
            continue
        if reading.ts.utcoffset() is None:
            return False
        try:
            score = sub_score(parameter, reading.value, scale=scale, on_oxygen=oxygen)
        except ValueError:
            continue  # unscorable: never counts
        total += score
        top = max(top, score)
    return total <= 4 and top < 3
