"""NEWS2 (Royal College of Physicians, National Early Warning Score 2, 2017): the score from the
freshest reading of each parameter, and the rule that raises, updates and clears its alert.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.types import AlertCandidate, ResidentProfile, Severity, Vital

Parameter = Literal["rr", "spo2", "on_o2", "sbp", "hr", "acvpu", "temp"]
Scale = Literal[1, 2]
Band = Literal["low", "low_medium", "medium", "high"]
AlertBand = Literal["low_medium", "medium", "high"]
GapReason = Literal["absent", "stale", "invalid"]
# RCP 2017's monitoring levels (chart 2): aggregate 0, 1-4, a single 3, 5-6, >= 7.
RiskLevel = Literal["zero", "low", "low_medium", "medium", "high"]
ObservationStatus = Literal["ok", "due", "overdue"]
_LEVELS: Final[tuple[RiskLevel, ...]] = ("zero", "low", "low_medium", "medium", "high")

# Chart order (RCP 2017, chart 1).
PARAMETERS: Final[tuple[Parameter, ...]] = ("rr", "spo2", "on_o2", "sbp", "hr", "acvpu", "temp")
BANDS: Final[tuple[Band, ...]] = ("low", "low_medium", "medium", "high")
ALERT_BANDS: Final[tuple[AlertBand, ...]] = ("low_medium", "medium", "high")
# Clinical-risk band (RCP 2017) -> alert severity:
#   aggregate 0-4, no single 3        "low"         no alert (an open one clears)
#   a single parameter 3, total <= 4  "low_medium"  "medium"  (urgent ward-based review)
#   aggregate 5-6                     "medium"      "high"    (urgent clinical review)
#   aggregate >= 7                    "high"        "critical", suggestion "referral"
#                                                             (emergency assessment)
SEVERITY_BY_BAND: Final[Mapping[AlertBand, Severity]] = {
    "low_medium": "medium",
    "medium": "high",
    "high": "critical",
}
RULE_ID: Final = "news2"
# Elsewhere in the product: NEWS2 >= 5 must be detected within 60 s of the data supporting it.
DETECTION_LATENCY_LIMIT_S: Final = 60.0

_ACVPU_ALERT: Final = 0
_ACVPU_MAX: Final = 4
# Enough digits that quantizing any finite float cannot overflow the context.
_DECIMAL: Final = Context(prec=400)
_TENTH: Final = Decimal("0.1")
_ONE: Final = Decimal(1)


def _band_rank(band: Band) -> int:
    return BANDS.index(band)


# --- configuration -------------------------------------------------------------------------


class FreshnessWindows(BaseModel):
    """How old (seconds, inclusive) the freshest reading of each parameter may be to count."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Continuous wearable / bed streams report every few seconds to a minute: ten minutes of
    # silence means the device is off or offline, and a reading that old no longer describes
    # the resident (the device rules report the silence itself).
    rr: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    spo2: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    hr: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    # Cuff BP and temperature come from rounds, due 4-6 hourly for a score of 1-4 (RCP 2017):
    # 8 h keeps a round's value until the next is due, with slack, but not across a shift.
    sbp: float = Field(default=8 * 3600.0, gt=0, allow_inf_nan=False)
    temp: float = Field(default=8 * 3600.0, gt=0, allow_inf_nan=False)
    # Consciousness and oxygen therapy are charted at the 12-hourly minimum and change rarely
    # without someone recording it.
    acvpu: float = Field(default=12 * 3600.0, gt=0, allow_inf_nan=False)
    on_o2: float = Field(default=12 * 3600.0, gt=0, allow_inf_nan=False)

    def for_parameter(self, parameter: Parameter) -> float:
        window: float = getattr(self, parameter)
        return window


class ObservationIntervals(BaseModel):
    """How often (seconds) observations are due at each risk level: RCP 2017's minimum
    monitoring frequency. A manual value counts for its level's interval plus the grace (and
    never longer than its `max_age_s`), so a round that is overdue leaves the score incomplete:
    it then cannot clear or step down an alert."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    zero: float = Field(default=12 * 3600.0, gt=0, allow_inf_nan=False)  # aggregate 0: 12-hourly
    low: float = Field(default=6 * 3600.0, gt=0, allow_inf_nan=False)  # 1-4: "4-6 hourly"
    low_medium: float = Field(default=3600.0, gt=0, allow_inf_nan=False)  # a single 3: hourly
    medium: float = Field(default=3600.0, gt=0, allow_inf_nan=False)  # 5-6: hourly
    # >= 7 asks for continuous monitoring: the wearable streams; what only a caregiver can
    # measure (BP, ACVPU, oxygen) is due every quarter hour.
    high: float = Field(default=900.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _never_longer_for_more_risk(self) -> ObservationIntervals:
        if not self.zero >= self.low >= self.low_medium >= self.medium >= self.high:
            raise ValueError(
                "observe_every_s must not be longer for more risk: need zero >= low >= "
                f"low_medium >= medium >= high, got zero={self.zero}, low={self.low}, "
                f"low_medium={self.low_medium}, medium={self.medium}, high={self.high}"
            )
        return self

    def for_level(self, level: RiskLevel) -> float:
        seconds: float = getattr(self, level)
        return seconds


class RaiseAfter(BaseModel):
    """How long (seconds) a band, or worse, must hold before the rule raises (or escalates) to
    it. Never longer for a worse band, and at most DETECTION_LATENCY_LIMIT_S for medium/high."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A lone artefact (a slipped SpO2 probe reading 91) scores a single 3: a minute of
    # persistence filters it, and a single 3 asks for an urgent ward review, not a crash call.
    low_medium: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    # Half the 60 s budget for NEWS2 >= 5: the rest is left for the detector's tick cadence and
    # transport. An aggregate of 5 needs several parameters off at once, so artefacts are rarer.
    medium: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    # >= 7 is an emergency response: raise on the first complete score.
    high: float = Field(default=0.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered_and_fast_enough(self) -> RaiseAfter:
        if not self.high <= self.medium <= self.low_medium:
            raise ValueError(
                "raise_after_s must not be longer for a worse band: need high <= medium <= "
                f"low_medium, got high={self.high}, medium={self.medium}, "
                f"low_medium={self.low_medium}"
            )
        if self.medium > DETECTION_LATENCY_LIMIT_S:
            raise ValueError(
                f"raise_after_s.medium={self.medium} exceeds {DETECTION_LATENCY_LIMIT_S:g} s: "
                "NEWS2 >= 5 must be detected within that time"
            )
        return self

    def for_band(self, band: AlertBand) -> float:
        seconds: float = getattr(self, band)
        return seconds


class News2Config(BaseModel):
    """NEWS2 rule configuration; validated at load (all durations in seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_age_s: FreshnessWindows = FreshnessWindows()
    raise_after_s: RaiseAfter = RaiseAfter()
    # Hysteresis: the band must stay below the alert's band this long before the alert steps
    # down (to "low": clears), so a value flickering across a boundary does not page twice.
    # Five minutes is several wearable reports and short next to the 4-12 h observation cycle.
    clear_after_s: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    # A score that dips below a band for up to this long has not left it: a deteriorating
    # resident's score flickers across a boundary as each wearable reading lands, and
    # restarting the hold at every dip delayed detection by many minutes. One minute is a
    # wearable report or two; a single artefact shorter than the hold still does not page.
    dip_tolerance_s: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    observe_every_s: ObservationIntervals = ObservationIntervals()
    # A round takes a while, and one that lands a quarter hour late should not flick the score
    # to incomplete (and the board to "overdue") meanwhile.
    observation_grace_s: float = Field(default=900.0, ge=0, allow_inf_nan=False)


# --- scoring -------------------------------------------------------------------------------


@lru_cache(maxsize=8192)  # readings repeat a few values; exact decimal rounding is not free
def charted_value(parameter: Parameter, value: float) -> Decimal:
    """`value` at the chart's precision, where it is banded: temperature to 0.1 °C, everything
    else to an integer, rounded half up (20.5 -> 21, 95.49 -> 95, 38.05 -> 38.1).

    The chart has integer (temperature: one-decimal) bands, so a wearable's 20.4 must land in
    one of them. Rounding is applied to the value as written (its shortest decimal form, what
    the device sent), not to the binary float: 38.05 is 38.0499999... in binary and would
    otherwise round down. Raises ValueError for a non-finite value."""
    if not math.isfinite(value):
        raise ValueError(f"{parameter}: not a finite number: {value!r}")
    quantum = _TENTH if parameter == "temp" else _ONE
    return Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP, context=_DECIMAL)


def _band_score(x: Decimal, upper_bounds: tuple[tuple[int | str, int], ...], top: int) -> int:
    # `upper_bounds` lists (inclusive upper bound, score) from low to high values.
    for bound, score in upper_bounds:
        if x <= Decimal(bound):
            return score
    return top


def sub_score(
    parameter: Parameter, value: float, *, scale: Scale = 1, on_oxygen: bool = False
) -> int:
    """The RCP 2017 chart score (0-3) of one reading. `on_oxygen` matters only for SpO2 on
    scale 2. Raises ValueError for a value the chart cannot score (non-finite; acvpu not a code
    0-4; on_o2 not 0 or 1)."""
    return _cached_sub_score(parameter, value, scale, on_oxygen)


# Readings repeat the same few values (whole beats per minute, whole percent), and exact
# decimal rounding is not free: remember recent answers. Errors are not cached.
@lru_cache(maxsize=8192)
def _cached_sub_score(parameter: Parameter, value: float, scale: Scale, on_oxygen: bool) -> int:
    if parameter == "on_o2":
        flag = _oxygen_flag(value)
        return 2 if flag else 0
    if parameter == "acvpu":
        return 0 if _acvpu_code(value) == _ACVPU_ALERT else 3
    x = charted_value(parameter, value)
    if parameter == "rr":
        return _band_score(x, ((8, 3), (11, 1), (20, 0), (24, 2)), 3)
    if parameter == "spo2":
        if scale == 1:
            return _band_score(x, ((91, 3), (93, 2), (95, 1)), 0)
        if x <= 92 or not on_oxygen:
            return _band_score(x, ((83, 3), (85, 2), (87, 1)), 0)
        # Scale 2 on oxygen: above the 88-92 % target means too much oxygen.
        return _band_score(x, ((94, 1), (96, 2)), 3)
    if parameter == "sbp":
        return _band_score(x, ((90, 3), (100, 2), (110, 1), (219, 0)), 3)
    if parameter == "hr":
        return _band_score(x, ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2)), 3)
    if parameter == "temp":
        return _band_score(x, (("35.0", 3), ("36.0", 1), ("38.0", 0), ("39.0", 1)), 2)
    raise ValueError(f"not a NEWS2 parameter: {parameter!r}")


def _oxygen_flag(value: float) -> bool:
    if value == 0:
        return False
    if value == 1:
        return True
    raise ValueError(f"on_o2: expected 0 (air) or 1 (oxygen), got {value!r}")


def _acvpu_code(value: float) -> int:
    if math.isfinite(value) and float(value).is_integer() and 0 <= value <= _ACVPU_MAX:
        return int(value)
    raise ValueError(f"acvpu: expected a code 0-4 (A, C, V, P, U), got {value!r}")


def clinical_band(total: int, max_sub_score: int) -> Band:
    """RCP 2017 clinical-risk band of a complete score."""
    if total >= 7:
        return "high"
    if total >= 5:
        return "medium"
    if max_sub_score >= 3:
        return "low_medium"
    return "low"


def risk_level(total: int, max_sub_score: int) -> RiskLevel:
    """RCP 2017 monitoring level of a score (chart 2): 0, 1-4, a single 3, 5-6, >= 7."""
    band = clinical_band(total, max_sub_score)
    if band != "low":
        return band
    return "zero" if total == 0 else "low"


@dataclass(frozen=True, slots=True)
class SubScore:
    """One parameter's chart score and what it was computed from. `charted` is the value as
    banded (after rounding). `reading` is None only in referral snapshots stored before oxygen
    stopped being assumed."""

    parameter: Parameter
    score: int
    charted: Decimal
    reading: Vital | None


@dataclass(frozen=True, slots=True)
class Gap:
    """Why a parameter did not count: no reading, too old (`age_s` > window), or unscorable."""

    parameter: Parameter
    reason: GapReason
    reading: Vital | None = None
    age_s: float | None = None


@dataclass(frozen=True, slots=True)
class ObservationsDue:
    """When the next observations are due (RCP 2017 minimum frequency for `level`, the level of
    the score with every value counted over its `max_age_s`). "overdue": a parameter is missing,
    or a manual value no longer counts; "due": a manual value is within its last
    `observation_grace_s`. Parameters kept current by a device are never due."""

    level: RiskLevel
    every_s: float
    status: ObservationStatus
    due_at: datetime | None  # the earliest counting manual value falls due (None: none counts)
    parameters: tuple[Parameter, ...]  # due or overdue now, chart order


@dataclass(frozen=True, slots=True)
class News2Result:
    """A NEWS2 computation at `at`. When any parameter is missing, stale or invalid, the score
    is incomplete: `total` and `band` are None and `partial_total` is NOT a NEWS2 score, only
    the sum over the parameters present (a lower bound of the true score).

    `proven_band` is the band the evidence already proves (the band itself when complete;
    None when it proves nothing above low), and `proven_total` the total it rests on: a lower
    bound from every value within its `max_age_s`, overdue rounds included (old evidence of
    risk is kept; only vouching for improvement needs a current round). An incomplete score
    is never shown as harmless when it is not."""

    at: datetime
    scale: Scale
    complete: bool
    total: int | None
    band: Band | None
    partial_total: int
    sub_scores: tuple[SubScore, ...]  # chart order, the parameters that counted
    missing: tuple[Parameter, ...]  # chart order; details in `gaps`
    gaps: tuple[Gap, ...]
    assumptions: tuple[str, ...]
    proven_band: Band | None = None
    proven_total: int = 0
    observations: ObservationsDue | None = None

    def sub_score(self, parameter: Parameter) -> SubScore | None:
        return next((s for s in self.sub_scores if s.parameter == parameter), None)


def _require_aware(name: str, ts: datetime) -> None:
    if ts.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {ts!r}")


Limit = Callable[[Parameter, Vital], float]


def _fresh(
    parameter: Parameter, latest: Mapping[str, Vital], now: datetime, limit: Limit
) -> Vital | Gap:
    reading = latest.get(parameter)
    if reading is None:
        return Gap(parameter, "absent")
    _require_aware(f"{parameter} reading ts", reading.ts)
    # A reading from slightly in the future (device clock ahead) is fresh: ingest owns skew.
    age_s = (now - reading.ts).total_seconds()
    if age_s > limit(parameter, reading):
        return Gap(parameter, "stale", reading, age_s)
    return reading


def compute_news2(
    latest: Mapping[str, Vital],
    *,
    scale: Scale,
    now: datetime,
    config: News2Config,
    level_at_least: RiskLevel | None = None,
) -> News2Result:
    """NEWS2 from the freshest reading of each parameter (`latest`, keyed by metric name).

    Any parameter unknown (absent, stale or invalid) makes the result incomplete: ACVPU is
    never assumed Alert, nor oxygen assumed air. A manual value counts for as long as the
    observation interval of the current risk level allows (`observe_every_s` plus the grace,
    at most its `max_age_s`); the level is that of the score with every value counted over its
    `max_age_s`, so it does not depend on itself, or `level_at_least` (an open alert's band:
    standing down from hourly observations takes a current round). Device values count over
    `max_age_s`."""
    _require_aware("now", now)
    windows = config.max_age_s
    base = _score(latest, scale, now, lambda p, _: windows.for_parameter(p))
    top = max((s.score for s in base.sub_scores), default=0)
    level = risk_level(base.total if base.total is not None else base.partial_total, top)
    if level_at_least is not None and _LEVELS.index(level_at_least) > _LEVELS.index(level):
        level = level_at_least
    every_s = config.observe_every_s.for_level(level)
    grace_s = config.observation_grace_s

    def limit(parameter: Parameter, reading: Vital) -> float:
        window = windows.for_parameter(parameter)
        return min(window, every_s + grace_s) if reading.source == "manual" else window

    manual = any(r.source == "manual" for p, r in latest.items() if p in PARAMETERS)
    result = _score(latest, scale, now, limit) if manual else base
    due = _observations(result, latest, level, every_s, grace_s, limit)
    # The base counts a superset of the readings (a round overdue for this risk still counts
    # there), and missing parameters only add points: its sum is the lower bound to prove on.
    proven_total = base.total if base.total is not None else base.partial_total
    proven = clinical_band(proven_total, top)
    return replace(
        result,
        proven_band=result.band or (None if proven == "low" else proven),
        proven_total=result.total if result.total is not None else proven_total,
        observations=due,
    )


def _score(latest: Mapping[str, Vital], scale: Scale, now: datetime, limit: Limit) -> News2Result:
    readings: dict[Parameter, Vital] = {}
    gaps: list[Gap] = []
    for parameter in PARAMETERS:
        found = _fresh(parameter, latest, now, limit)
        if isinstance(found, Gap):
            gaps.append(found)
        else:
            readings[parameter] = found

    # Oxygen unknown is missing data (the score is incomplete). SpO2 on scale 2 is then scored
    # as on air: on air never scores more than on oxygen, so the partial total stays a lower
    # bound; it is said.
    oxygen = readings.get("on_o2")
    on_oxygen = oxygen is not None and oxygen.value == 1
    known = oxygen is not None and oxygen.value in (0, 1)
    assumptions: list[str] = []
    if scale == 2 and not known and "spo2" in readings:
        assumptions.append("on_o2 unknown: SpO2 (scale 2) scored as on air, a lower bound")

    scores: list[SubScore] = []
    for parameter in PARAMETERS:
        reading = readings.get(parameter)
        if reading is None:
            continue
        try:
            score = sub_score(parameter, reading.value, scale=scale, on_oxygen=on_oxygen)
            charted = (
                Decimal(int(reading.value))
                if parameter in ("on_o2", "acvpu")
                else charted_value(parameter, reading.value)
            )
        except ValueError:
            gaps.append(Gap(parameter, "invalid", reading))
            continue
        scores.append(SubScore(parameter, score, charted, reading))

    gaps.sort(key=lambda g: PARAMETERS.index(g.parameter))
    partial = sum(s.score for s in scores)
    complete = not gaps
    return News2Result(
        at=now,
        scale=scale,
        complete=complete,
        total=partial if complete else None,
        band=clinical_band(partial, max((s.score for s in scores), default=0))
        if complete
        else None,
        partial_total=partial,
        sub_scores=tuple(scores),
        missing=tuple(g.parameter for g in gaps),
        gaps=tuple(gaps),
        assumptions=tuple(assumptions),
    )


def _observations(
    result: News2Result,
    latest: Mapping[str, Vital],
    level: RiskLevel,
    every_s: float,
    grace_s: float,
    limit: Limit,
) -> ObservationsDue:
    overdue: list[Parameter] = []
    due: dict[Parameter, datetime] = {}
    for parameter in PARAMETERS:
        reading = latest.get(parameter)
        if parameter in result.missing:
            overdue.append(parameter)
        elif reading is not None and reading.source == "manual":
            # Due for the last `grace_s` of the time it counts.
            left_s = max(0.0, limit(parameter, reading) - grace_s)
            due[parameter] = reading.ts + timedelta(seconds=left_s)
    due_at = min(due.values(), default=None)
    now_due = [p for p, at in due.items() if at <= result.at]
    status: ObservationStatus = "overdue" if overdue else "due" if now_due else "ok"
    parameters = tuple(p for p in PARAMETERS if p in overdue or p in now_due)
    return ObservationsDue(level, every_s, status, due_at, parameters)


# --- the rule over time --------------------------------------------------------------------


HeldSince = tuple[datetime | None, datetime | None, datetime | None]


@dataclass(frozen=True, slots=True)
class News2State:
    """Per-resident NEWS2 rule state. The initial state is `News2State()`.

    `held_since[i]`: since when every complete score has been in ALERT_BANDS[i] or worse,
    dips shorter than `dip_tolerance_s` aside (`dipped_at[i]`: when the current dip began;
    None: not now). `alert_band`/`alert_total`: what the open alert last said (None: no
    alert open). `below_since`/`below_peak`: since when the score has stayed below the
    alert's band, and the worst band seen meanwhile (the step-down hysteresis window)."""

    held_since: HeldSince = (None, None, None)
    alert_band: AlertBand | None = None
    alert_total: int | None = None
    below_since: datetime | None = None
    below_peak: Band | None = None
    dipped_at: HeldSince = (None, None, None)  # since when a held band is in a short dip


def news2_step(
    state: News2State,
    latest: Mapping[str, Vital],
    *,
    profile: ResidentProfile,
    now: datetime,
    config: News2Config,
) -> tuple[News2State, list[AlertCandidate]]:
    """Advance the NEWS2 rule for one resident; call on every parameter change and on ticks.

    Raises once a band of low_medium or worse has held for its `raise_after_s` (dips shorter
    than `dip_tolerance_s` aside); updates the open alert when its band changes or its total
    worsens (escalating only after the same persistence, stepping down only after the score
    stays below the alert's band for `clear_after_s`);
    clears after `clear_after_s` back in "low". An incomplete score never clears or steps
    down (silence is not wellness, nor is an overdue round); it raises or escalates only when
    the evidence already proves the band (`proven_band`: a lower bound over every value within
    its `max_age_s`), saying it is incomplete and what is missing or out of date."""
    # While an alert is open its band sets the observation interval: an alert raised at
    # "hourly" does not stand down on a round that is only current for a lower score.
    result = compute_news2(
        latest,
        scale=profile.news2_scale,
        now=now,
        config=config,
        level_at_least=state.alert_band,
    )
    if result.band is None or result.total is None:
        # Missing parameters can only add points: what is present is a lower bound.
        lower = result.proven_band
        if lower is None or (
            state.alert_band is not None and _band_rank(lower) <= _band_rank(state.alert_band)
        ):
            return News2State(alert_band=state.alert_band, alert_total=state.alert_total), []
        # Still marked incomplete, so it is never shown as a complete score.
        result = replace(result, total=result.proven_total, band=lower)
    assert result.band is not None and result.total is not None
    band, total = result.band, result.total
    held_since, dipped = _held_since(state, band, now, config.dip_tolerance_s)
    confirmed = _confirmed_band(held_since, band, now, config)

    if state.alert_band is None:
        if confirmed is None:
            return News2State(held_since=held_since, dipped_at=dipped), []
        return _emit("raise", confirmed, result, profile, held_since, dipped)

    alert_band = state.alert_band
    if _band_rank(band) >= _band_rank(alert_band):
        if confirmed is not None and _band_rank(confirmed) > _band_rank(alert_band):
            return _emit("update", confirmed, result, profile, held_since, dipped)
        # Worse within the band: say so. Better within it is not news (the step-down window
        # reports lasting improvement), and a total flickering 5-6 must not stream updates.
        if state.alert_total is None or total > state.alert_total:
            return _emit("update", alert_band, result, profile, held_since, dipped)
        return News2State(held_since, alert_band, state.alert_total, dipped_at=dipped), []

    # Below the alert's band: step down only once a whole window has stayed below it, and then
    # only to the worst band seen in that window (so a momentary low at its end cannot clear).
    if state.below_since is None or state.below_peak is None:
        below_since, peak = now, band
    else:
        below_since, peak = state.below_since, max(state.below_peak, band, key=_band_rank)
    if (now - below_since).total_seconds() < config.clear_after_s:
        return (
            News2State(held_since, alert_band, state.alert_total, below_since, peak, dipped),
            [],
        )
    step_down = _alert_band(peak)
    if step_down is not None:
        return _emit("update", step_down, result, profile, held_since, dipped)
    clear = AlertCandidate(
        rule_id=RULE_ID,
        action="clear",
        subject=profile.subject,
        dedupe_key=_dedupe_key(profile),
        severity=SEVERITY_BY_BAND[alert_band],
        ts=now,
        title=f"NEWS2 {total}: back to low clinical risk",
        values=_values(result, None),
    )
    return News2State(held_since=held_since, dipped_at=dipped), [clear]


def _held_since(
    state: News2State, band: Band, now: datetime, tolerance_s: float
) -> tuple[HeldSince, HeldSince]:
    """Each alert band's hold start and dip start after a score in `band` at `now`."""
    rank = _band_rank(band)
    held: list[datetime | None] = []
    dipped: list[datetime | None] = []
    for level, since, dip in zip(ALERT_BANDS, state.held_since, state.dipped_at, strict=True):
        if rank >= _band_rank(level):
            held.append(since if since is not None else now)
            dipped.append(None)
        elif since is None:
            held.append(None)
            dipped.append(None)
        else:
            dip_start = dip if dip is not None else now
            still = (now - dip_start).total_seconds() <= tolerance_s
            held.append(since if still else None)
            dipped.append(dip_start if still else None)
    return (held[0], held[1], held[2]), (dipped[0], dipped[1], dipped[2])


def _confirmed_band(
    held_since: HeldSince, band: Band, now: datetime, config: News2Config
) -> AlertBand | None:
    """The worst band the score is in now that has held (it or worse, short dips aside) for
    its persistence, if any."""
    confirmed: AlertBand | None = None
    rank = _band_rank(band)
    for level, since in zip(ALERT_BANDS, held_since, strict=True):
        held_s = None if since is None else (now - since).total_seconds()
        if (
            held_s is not None
            and rank >= _band_rank(level)
            and held_s >= config.raise_after_s.for_band(level)
        ):
            confirmed = level
    return confirmed


def _alert_band(band: Band) -> AlertBand | None:
    return None if band == "low" else ALERT_BANDS[_band_rank(band) - 1]


def _emit(
    action: Literal["raise", "update"],
    alert_band: AlertBand,
    result: News2Result,
    profile: ResidentProfile,
    held_since: HeldSince,
    dipped: HeldSince,
) -> tuple[News2State, list[AlertCandidate]]:
    assert result.total is not None and result.band is not None
    state = News2State(held_since, alert_band, result.total, dipped_at=dipped)
    if _band_rank(result.band) < _band_rank(alert_band):
        # Stepped down to a window's worst band while the score is lower still: the next
        # window starts now.
        state = News2State(held_since, alert_band, result.total, result.at, result.band, dipped)
    candidate = AlertCandidate(
        rule_id=RULE_ID,
        action=action,
        subject=profile.subject,
        dedupe_key=_dedupe_key(profile),
        severity=SEVERITY_BY_BAND[alert_band],
        ts=result.at,
        title=_title(result, alert_band),
        values=_values(result, alert_band),
        suggestion="referral" if alert_band == "high" else None,
    )
    return state, [candidate]


# How the page and the card name a parameter that is missing.
_SHOWN: Final[Mapping[Parameter, str]] = {
    "rr": "RR",
    "spo2": "SpO2",
    "on_o2": "air/oxygen",
    "sbp": "SBP",
    "hr": "HR",
    "acvpu": "ACVPU",
    "temp": "temp",
}


def _title(result: News2Result, alert_band: AlertBand) -> str:
    risk = f"{alert_band.replace('_', '-')} clinical risk"
    if result.complete:
        return f"NEWS2 {result.total}: {risk}"
    # A lower bound: say so, and what the score is still waiting for.
    missing = ", ".join(_SHOWN[p] for p in result.missing)
    return f"NEWS2 ≥ {result.proven_total}: {risk} (missing or out of date: {missing})"


def _dedupe_key(profile: ResidentProfile) -> str:
    return f"{RULE_ID}:{profile.subject}"


def _values(result: News2Result, alert_band: AlertBand | None) -> dict[str, float | str]:
    # "band" is the alert's (persistence-confirmed) band; "total" and the sub-scores are the
    # score at `ts`, which may be a band worse while an escalation is still being confirmed.
    assert result.total is not None and result.band is not None
    values: dict[str, float | str] = {
        "total": result.total,
        "band": alert_band or result.band,
        "scale": result.scale,
    }
    for s in result.sub_scores:
        values[s.parameter] = s.score
        if s.reading is not None:  # the reading scored, so a page shows values, not scores
            values[f"value_{s.parameter}"] = float(s.charted)
    if result.assumptions:
        values["assumptions"] = "; ".join(result.assumptions)
    if not result.complete:
        values["complete"] = "no: the total is a lower bound"
        values["missing"] = ",".join(result.missing)
    return values
