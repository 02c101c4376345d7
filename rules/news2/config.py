"""NEWS2 rule configuration (validated at load; every duration in seconds)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.news2.chart import DETECTION_LATENCY_LIMIT_S, AlertBand, Parameter, RiskLevel


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


class ContinuousConfig(BaseModel):
    """How a device's stream counts toward NEWS2. RCP 2017 charts NEWS2 from observations of a
    patient at rest, taken by a person who sees an artefact for what it is; a wearable reports
    every minute through meals, walks and the morning wash. So a device parameter counts as
    the median of its resting readings over the last `window_s` (rules/news2/continuous.py);
    manual and FHIR values count as they are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Five minutes: five reports of a once-a-minute wearable, so it takes three readings for
    # the median to move: one artefact (a slipped probe, a cough) cannot set the band, a
    # lasting change does within about half the window. 0: the freshest reading, as charted.
    window_s: float = Field(default=300.0, ge=0, le=600, allow_inf_nan=False)
    # Exertion raises heart and breathing rate for minutes after it stops, and an optical
    # SpO2 sensor that moves reads low: readings taken while the wearable's motion stream
    # shows activity, or this long after, do not count while a resting one is in date.
    motion_recovery_s: float = Field(default=300.0, ge=0, le=1800, allow_inf_nan=False)
    parameters: tuple[Parameter, ...] = ("rr", "spo2", "sbp", "hr", "temp")
    motion_parameters: tuple[Parameter, ...] = ("rr", "spo2", "hr")
    # Readings kept per parameter: bounds the state of a device reporting every second.
    max_readings: int = Field(default=64, ge=1, le=1024)

    @model_validator(mode="after")
    def _measured_parameters(self) -> ContinuousConfig:
        charted = {"on_o2", "acvpu"} & set(self.parameters)
        if charted:
            raise ValueError(f"continuous.parameters: {sorted(charted)} are flags, not streams")
        if not set(self.motion_parameters) <= set(self.parameters):
            raise ValueError("continuous.motion_parameters must be among continuous.parameters")
        return self


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
    continuous: ContinuousConfig = ContinuousConfig()
