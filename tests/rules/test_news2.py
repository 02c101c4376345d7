"""Tests for rules.news2: each chart boundary, rounding, freshness, and the rule on a fake clock."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.news2 import (
    PARAMETERS,
    SEVERITY_BY_BAND,
    AlertBand,
    Band,
    News2Config,
    News2Result,
    News2State,
    Parameter,
    Scale,
    charted_value,
    clinical_band,
    compute_news2,
    news2_step,
    risk_level,
    sub_score,
)
from rules.types import ACVPU_CODES, AlertCandidate, ResidentProfile, Source, Vital

T0 = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)
CONFIG = News2Config()
PROFILE = ResidentProfile(resident_id=42, site_id="site-a", unit_id="unit-1")
PROFILE_SCALE_2 = ResidentProfile(resident_id=43, site_id="site-a", unit_id="unit-1", news2_scale=2)

# Every parameter scoring 0, on either scale.
NORMAL: dict[str, float] = {
    "rr": 16,
    "spo2": 97,
    "on_o2": 0,
    "sbp": 120,
    "hr": 70,
    "acvpu": ACVPU_CODES["A"],
    "temp": 37.0,
}
SOURCE: dict[str, Source] = {
    "rr": "vitals",
    "spo2": "vitals",
    "on_o2": "manual",
    "sbp": "manual",
    "hr": "bed",
    "acvpu": "manual",
    "temp": "fhir",
}


def latest(
    values: Mapping[str, float] | None = None,
    *,
    now: datetime = T0,
    omit: tuple[str, ...] = (),
    ages: Mapping[str, float] | None = None,
) -> dict[str, Vital]:
    """The freshest readings: NORMAL overridden by `values`, taken at `now` minus `ages` (s)."""
    ages = ages or {}
    merged: dict[str, float] = {**NORMAL, **(values or {})}
    return {
        metric: Vital(
            ts=now - timedelta(seconds=ages.get(metric, 0.0)),
            metric=metric,
            value=value,
            source=SOURCE.get(metric, "vitals"),
        )
        for metric, value in merged.items()
        if metric not in omit
    }


def score(
    values: Mapping[str, float] | None = None,
    *,
    scale: Scale = 1,
    omit: tuple[str, ...] = (),
    ages: Mapping[str, float] | None = None,
) -> News2Result:
    readings = latest(values, omit=omit, ages=ages)
    return compute_news2(readings, scale=scale, now=T0, config=CONFIG)


def sub(result: News2Result, parameter: Parameter) -> int:
    found = result.sub_score(parameter)
    assert found is not None
    return found.score


# --- the chart, boundary by boundary (RCP 2017, chart 1) ----------------------------------

# (parameter, value, scale, on oxygen, expected sub-score): both sides of every boundary.
CHART: list[tuple[Parameter, float, Scale, bool, int]] = [
    ("rr", 8, 1, False, 3),
    ("rr", 9, 1, False, 1),
    ("rr", 11, 1, False, 1),
    ("rr", 12, 1, False, 0),
    ("rr", 20, 1, False, 0),
    ("rr", 21, 1, False, 2),
    ("rr", 24, 1, False, 2),
    ("rr", 25, 1, False, 3),
    ("spo2", 91, 1, False, 3),
    ("spo2", 92, 1, False, 2),
    ("spo2", 93, 1, False, 2),
    ("spo2", 94, 1, False, 1),
    ("spo2", 95, 1, False, 1),
    ("spo2", 96, 1, False, 0),
    ("spo2", 100, 1, False, 0),
    ("spo2", 96, 1, True, 0),  # scale 1 ignores oxygen for SpO2 (oxygen scores on its own row)
    ("spo2", 100, 1, True, 0),
    ("spo2", 83, 2, False, 3),
    ("spo2", 84, 2, False, 2),
    ("spo2", 85, 2, False, 2),
    ("spo2", 86, 2, False, 1),
    ("spo2", 87, 2, False, 1),
    ("spo2", 88, 2, False, 0),
    ("spo2", 92, 2, False, 0),
    ("spo2", 93, 2, False, 0),
    ("spo2", 97, 2, False, 0),
    ("spo2", 100, 2, False, 0),
    ("spo2", 83, 2, True, 3),
    ("spo2", 84, 2, True, 2),
    ("spo2", 85, 2, True, 2),
    ("spo2", 86, 2, True, 1),
    ("spo2", 87, 2, True, 1),
    ("spo2", 88, 2, True, 0),
    ("spo2", 92, 2, True, 0),
    ("spo2", 93, 2, True, 1),
    ("spo2", 94, 2, True, 1),
    ("spo2", 95, 2, True, 2),
    ("spo2", 96, 2, True, 2),
    ("spo2", 97, 2, True, 3),
    ("spo2", 100, 2, True, 3),
    ("on_o2", 0, 1, False, 0),
    ("on_o2", 1, 1, True, 2),
    ("on_o2", 0, 2, False, 0),
    ("on_o2", 1, 2, True, 2),
    ("sbp", 90, 1, False, 3),
    ("sbp", 91, 1, False, 2),
    ("sbp", 100, 1, False, 2),
    ("sbp", 101, 1, False, 1),
    ("sbp", 110, 1, False, 1),
    ("sbp", 111, 1, False, 0),
    ("sbp", 219, 1, False, 0),
    ("sbp", 220, 1, False, 3),
    ("hr", 40, 1, False, 3),
    ("hr", 41, 1, False, 1),
    ("hr", 50, 1, False, 1),
    ("hr", 51, 1, False, 0),
    ("hr", 90, 1, False, 0),
    ("hr", 91, 1, False, 1),
    ("hr", 110, 1, False, 1),
    ("hr", 111, 1, False, 2),
    ("hr", 130, 1, False, 2),
    ("hr", 131, 1, False, 3),
    ("acvpu", ACVPU_CODES["A"], 1, False, 0),
    ("acvpu", ACVPU_CODES["C"], 1, False, 3),
    ("acvpu", ACVPU_CODES["V"], 1, False, 3),
    ("acvpu", ACVPU_CODES["P"], 1, False, 3),
    ("acvpu", ACVPU_CODES["U"], 1, False, 3),
    ("temp", 35.0, 1, False, 3),
    ("temp", 35.1, 1, False, 1),
    ("temp", 36.0, 1, False, 1),
    ("temp", 36.1, 1, False, 0),
    ("temp", 38.0, 1, False, 0),
    ("temp", 38.1, 1, False, 1),
    ("temp", 39.0, 1, False, 1),
    ("temp", 39.1, 1, False, 2),
]


def _chart_id(case: tuple[Parameter, float, Scale, bool, int]) -> str:
    parameter, value, scale, on_o2, expected = case
    where = f"s{scale}{'-o2' if on_o2 else ''}" if parameter == "spo2" else ""
    return f"{parameter}{where}={value:g}->{expected}"


@pytest.mark.parametrize("case", CHART, ids=[_chart_id(c) for c in CHART])
def test_chart_boundary(case: tuple[Parameter, float, Scale, bool, int]) -> None:
    parameter, value, scale, on_o2, expected = case
    # On oxygen, SpO2 is held where it scores 0 on the scale, so only the row under test moves.
    spo2 = 92 if scale == 2 and on_o2 else NORMAL["spo2"]
    result = score({"spo2": spo2, "on_o2": int(on_o2), parameter: value}, scale=scale)
    assert result.complete
    assert sub(result, parameter) == expected
    assert sub_score(parameter, value, scale=scale, on_oxygen=on_o2) == expected
    assert result.total == expected + (2 if on_o2 and parameter != "on_o2" else 0)


# (parameter, raw value, charted value, expected): round half up to the chart's precision.
ROUNDING: list[tuple[Parameter, float, str, int]] = [
    ("rr", 8.49, "8", 3),
    ("rr", 8.5, "9", 1),
    ("rr", 11.49, "11", 1),
    ("rr", 11.5, "12", 0),
    ("rr", 20.4, "20", 0),
    ("rr", 20.49, "20", 0),
    ("rr", 20.5, "21", 2),
    ("rr", 24.49, "24", 2),
    ("rr", 24.5, "25", 3),
    ("spo2", 91.49, "91", 3),
    ("spo2", 91.5, "92", 2),
    ("spo2", 95.49, "95", 1),
    ("spo2", 95.5, "96", 0),
    ("sbp", 90.49, "90", 3),
    ("sbp", 90.5, "91", 2),
    ("sbp", 110.49, "110", 1),
    ("sbp", 110.5, "111", 0),
    ("sbp", 219.49, "219", 0),
    ("sbp", 219.5, "220", 3),
    ("hr", 40.49, "40", 3),
    ("hr", 40.5, "41", 1),
    ("hr", 90.49, "90", 0),
    ("hr", 90.5, "91", 1),
    ("hr", 130.49, "130", 2),
    ("hr", 130.5, "131", 3),
    ("temp", 35.04, "35.0", 3),
    ("temp", 35.05, "35.1", 1),
    ("temp", 36.04, "36.0", 1),
    ("temp", 36.05, "36.1", 0),
    ("temp", 38.04, "38.0", 0),
    ("temp", 38.05, "38.1", 1),  # binary 38.0499999...: rounded as written
    ("temp", 39.04, "39.0", 1),
    ("temp", 39.05, "39.1", 2),
]


@pytest.mark.parametrize(
    ("parameter", "value", "charted", "expected"),
    ROUNDING,
    ids=[f"{p}={v:g}->{c}->{e}" for p, v, c, e in ROUNDING],
)
def test_rounding_edge(parameter: Parameter, value: float, charted: str, expected: int) -> None:
    assert charted_value(parameter, value) == Decimal(charted)
    result = score({parameter: value})
    found = result.sub_score(parameter)
    assert found is not None and found.reading is not None
    assert (found.score, found.charted, found.reading.value) == (expected, Decimal(charted), value)


@pytest.mark.parametrize(
    ("value", "on_o2", "expected"),
    [(92.49, 1, 0), (92.5, 1, 1), (92.5, 0, 0), (96.5, 1, 3), (87.5, 0, 0), (83.5, 0, 2)],
    ids=["92.49-o2->0", "92.5-o2->1", "92.5-air->0", "96.5-o2->3", "87.5-air->0", "83.5-air->2"],
)
def test_rounding_edge_spo2_scale_2(value: float, on_o2: int, expected: int) -> None:
    assert sub(score({"spo2": value, "on_o2": on_o2}, scale=2), "spo2") == expected


# --- aggregate and clinical-risk band --------------------------------------------------------

BAND_CASES: list[tuple[str, dict[str, float], int, Band]] = [
    ("all-normal-0", {}, 0, "low"),
    ("4-no-single-3", {"hr": 111, "rr": 21}, 4, "low"),
    ("single-3-total-3", {"spo2": 91}, 3, "low_medium"),
    ("single-3-acvpu-C", {"acvpu": ACVPU_CODES["C"]}, 3, "low_medium"),
    ("single-3-total-4", {"spo2": 91, "hr": 91}, 4, "low_medium"),
    ("5-no-single-3", {"hr": 111, "rr": 21, "temp": 38.5}, 5, "medium"),
    ("5-with-a-3", {"spo2": 91, "rr": 21}, 5, "medium"),
    ("6", {"hr": 111, "rr": 21, "sbp": 105, "temp": 38.5}, 6, "medium"),
    ("7", {"spo2": 91, "rr": 21, "hr": 111}, 7, "high"),
    (
        "20-max",
        {"rr": 25, "spo2": 85, "on_o2": 1, "sbp": 90, "hr": 131, "acvpu": 4, "temp": 34},
        20,
        "high",
    ),
]


@pytest.mark.parametrize(
    ("values", "total", "band"),
    [c[1:] for c in BAND_CASES],
    ids=[c[0] for c in BAND_CASES],
)
def test_aggregate_band(values: dict[str, float], total: int, band: Band) -> None:
    result = score(values)
    assert (result.complete, result.total, result.partial_total, result.band) == (
        True,
        total,
        total,
        band,
    )
    assert result.missing == () and result.assumptions == ()


@pytest.mark.parametrize(
    ("total", "max_sub", "band"),
    [
        (0, 0, "low"),
        (4, 2, "low"),
        (3, 3, "low_medium"),
        (4, 3, "low_medium"),
        (5, 2, "medium"),
        (5, 3, "medium"),
        (6, 3, "medium"),
        (7, 2, "high"),
        (7, 3, "high"),
    ],
    ids=["0", "4", "3-single-3", "4-single-3", "5", "5-with-3", "6", "7", "7-with-3"],
)
def test_clinical_band_edges(total: int, max_sub: int, band: Band) -> None:
    assert clinical_band(total, max_sub) == band


def test_result_carries_each_reading_used() -> None:
    result = score({"hr": 112.4})
    assert [s.parameter for s in result.sub_scores] == list(PARAMETERS)
    hr = result.sub_score("hr")
    assert hr is not None and hr.reading is not None
    assert (hr.score, hr.charted, hr.reading.value, hr.reading.source, hr.reading.ts) == (
        2,
        Decimal(112),
        112.4,
        "bed",
        T0,
    )
    assert result.at == T0 and result.scale == 1


# --- incomplete, stale, invalid, assumed --------------------------------------------------

SCORED = [p for p in PARAMETERS if p != "on_o2"]


@pytest.mark.parametrize("parameter", SCORED, ids=SCORED)
def test_missing_parameter_makes_result_incomplete(parameter: Parameter) -> None:
    result = score({"rr": 25, "hr": 111}, omit=(parameter,))  # 3 + 2 present, unless omitted
    expected_partial = 5 - {"rr": 3, "hr": 2}.get(parameter, 0)
    assert not result.complete
    assert result.total is None and result.band is None
    assert result.missing == (parameter,)
    assert [(g.parameter, g.reason) for g in result.gaps] == [(parameter, "absent")]
    assert result.partial_total == expected_partial
    assert result.sub_score(parameter) is None


def test_acvpu_is_never_assumed_alert() -> None:
    result = score(omit=("acvpu",))
    assert (result.complete, result.total, result.missing) == (False, None, ("acvpu",))


def test_several_missing_listed_in_chart_order() -> None:
    result = score(omit=("temp", "rr", "acvpu"))
    assert result.missing == ("rr", "acvpu", "temp")


@pytest.mark.parametrize("scale", [1, 2], ids=["scale-1", "scale-2"])
def test_unknown_oxygen_is_missing_not_air(scale: Scale) -> None:
    result = score({"spo2": 97}, scale=scale, omit=("on_o2",))
    assert not result.complete and result.total is None and result.band is None
    assert result.missing == ("on_o2",) and result.sub_score("on_o2") is None
    assert result.partial_total == 0  # scale 2: 97 on air scores 0, the lowest it can score
    # Scale 2 scores SpO2 as on air meanwhile, a lower bound, and says so.
    assert len(result.assumptions) == (1 if scale == 2 else 0)
    if scale == 2:
        assert "lower bound" in result.assumptions[0]


@given(st.floats(50, 100, allow_nan=False), st.sampled_from([0.0, 1.0]))
def test_scale_2_spo2_on_air_is_a_lower_bound(spo2: float, on_o2: float) -> None:
    known = score({"spo2": spo2, "on_o2": on_o2}, scale=2)
    unknown = score({"spo2": spo2}, scale=2, omit=("on_o2",))
    assert known.total is not None and unknown.partial_total <= known.total


# Manual values follow the risk level (tested below); here every level allows a day, so each
# parameter's own `max_age_s` is the window.
LENIENT = News2Config.model_validate(
    {"observe_every_s": dict.fromkeys(("zero", "low", "low_medium", "medium", "high"), 86400)}
)
FRESHNESS = [(p, getattr(CONFIG.max_age_s, p)) for p in PARAMETERS]


@pytest.mark.parametrize(
    ("parameter", "window"), FRESHNESS, ids=[f"{p}-{w:g}s" for p, w in FRESHNESS]
)
@pytest.mark.parametrize("over", [0.0, 1e-6, 1.0], ids=["at-window", "1us-over", "1s-over"])
def test_freshness_window(parameter: Parameter, window: float, over: float) -> None:
    readings = latest({"on_o2": 1}, ages={parameter: window + over})
    result = compute_news2(readings, scale=1, now=T0, config=LENIENT)
    if over == 0:
        assert result.complete and result.missing == () and result.assumptions == ()
        found = result.sub_score(parameter)
        assert found is not None and found.reading is not None
        assert found.reading.ts == T0 - timedelta(seconds=window)
    else:
        assert not result.complete and result.missing == (parameter,)
        (gap,) = result.gaps
        assert gap.reason == "stale" and gap.age_s == pytest.approx(window + over)
        assert gap.reading is not None and gap.reading.metric == parameter


def test_reading_slightly_in_the_future_counts() -> None:
    assert score(ages={"hr": -2.0}).complete


def test_freshness_windows_are_configuration() -> None:
    config = News2Config.model_validate({"max_age_s": {"hr": 60}})
    result = compute_news2(latest(ages={"hr": 61}), scale=1, now=T0, config=config)
    assert result.missing == ("hr",)
    assert config.max_age_s.spo2 == CONFIG.max_age_s.spo2


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("hr", math.nan),
        ("temp", math.inf),
        ("rr", -math.inf),
        ("acvpu", 5),
        ("acvpu", -1),
        ("acvpu", 2.5),
        ("acvpu", math.nan),
    ],
    ids=["hr-nan", "temp-inf", "rr-minus-inf", "acvpu-5", "acvpu-neg", "acvpu-2.5", "acvpu-nan"],
)
def test_unscorable_value_is_a_gap(parameter: Parameter, value: float) -> None:
    result = score({parameter: value})
    assert not result.complete and result.total is None
    assert [(g.parameter, g.reason) for g in result.gaps] == [(parameter, "invalid")]
    with pytest.raises(ValueError, match=parameter):
        sub_score(parameter, value)


def test_invalid_oxygen_flag_is_a_gap() -> None:
    result = score({"on_o2": 0.5})
    assert not result.complete and result.missing == ("on_o2",)
    assert [(g.parameter, g.reason) for g in result.gaps] == [("on_o2", "invalid")]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        compute_news2(latest(), scale=1, now=T0.replace(tzinfo=None), config=CONFIG)
    naive = {**latest(), "hr": Vital(T0.replace(tzinfo=None), "hr", 70, "vitals")}
    with pytest.raises(ValueError, match="hr reading ts must be timezone-aware"):
        compute_news2(naive, scale=1, now=T0, config=CONFIG)


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"max_age_s": {"hr": 0}}, "greater than 0"),
        ({"max_age_s": {"temp": -5}}, "greater than 0"),
        ({"max_age_s": {"rr": "nan"}}, "finite"),
        ({"max_age_s": {"heart": 600}}, "Extra inputs"),
        ({"clear_after_s": 0}, "greater than 0"),
        ({"raise_after_s": {"high": -1}}, "greater than or equal to 0"),
        ({"raise_after_s": {"medium": 61, "low_medium": 90}}, "NEWS2 >= 5"),
        ({"raise_after_s": {"high": 40}}, "not be longer for a worse band"),
        ({"raise_after_s": {"low_medium": 10}}, "not be longer for a worse band"),
        ({"raise_afer_s": {}}, "Extra inputs"),
        ({"observe_every_s": {"high": 7200}}, "not be longer for more risk"),
        ({"observe_every_s": {"zero": 0}}, "greater than 0"),
        ({"observation_grace_s": -1}, "greater than or equal to 0"),
    ],
    ids=[
        "window-zero",
        "window-negative",
        "window-nan",
        "window-unknown-param",
        "clear-zero",
        "raise-negative",
        "medium-over-latency-limit",
        "high-slower-than-medium",
        "low-medium-faster-than-medium",
        "typo",
        "observe-high-slower-than-medium",
        "observe-zero",
        "grace-negative",
    ],
)
def test_config_rejected_at_load(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        News2Config.model_validate(raw)


def test_config_defaults() -> None:
    assert CONFIG.raise_after_s.model_dump() == {"low_medium": 60.0, "medium": 30.0, "high": 0.0}
    assert CONFIG.clear_after_s == 300.0
    assert CONFIG.max_age_s.model_dump() == {
        "rr": 600.0,
        "spo2": 600.0,
        "hr": 600.0,
        "sbp": 28800.0,
        "temp": 28800.0,
        "acvpu": 43200.0,
        "on_o2": 43200.0,
    }
    # RCP 2017 minimum monitoring frequencies.
    assert CONFIG.observe_every_s.model_dump() == {
        "zero": 43200.0,
        "low": 21600.0,
        "low_medium": 3600.0,
        "medium": 3600.0,
        "high": 900.0,
    }
    assert CONFIG.observation_grace_s == 900.0


# --- the rule over time (fake clock) -------------------------------------------------------

LOW: dict[str, float] = {}
LOW_4 = {"hr": 111, "rr": 21}  # 4, no single 3
LOW_MEDIUM = {"spo2": 91}  # single 3
MEDIUM_5 = {"spo2": 91, "rr": 21}
MEDIUM_6 = {"spo2": 91, "rr": 21, "hr": 91}
HIGH_7 = {"spo2": 91, "rr": 21, "hr": 111}
HIGH_8 = {"spo2": 91, "rr": 21, "hr": 111, "temp": 38.5}


class Ward:
    """One resident's rule driven by an explicit clock: each step re-stamps every reading
    at the current time (continuous wearables), unless told to leave parameters out."""

    def __init__(self, profile: ResidentProfile = PROFILE, config: News2Config = CONFIG) -> None:
        self.profile, self.config = profile, config
        self.now = T0
        self.state = News2State()
        self.emitted: list[AlertCandidate] = []

    def step(
        self, after_s: float, values: Mapping[str, float], *, omit: tuple[str, ...] = ()
    ) -> list[AlertCandidate]:
        self.now += timedelta(seconds=after_s)
        readings = latest(values, now=self.now, omit=omit)
        self.state, out = news2_step(
            self.state, readings, profile=self.profile, now=self.now, config=self.config
        )
        self.emitted += out
        return out

    def hold(
        self, seconds: float, values: Mapping[str, float], *, every_s: float = 10.0
    ) -> list[AlertCandidate]:
        """Keep `values` for `seconds` more, stepping every `every_s` (ticks)."""
        out: list[AlertCandidate] = []
        elapsed = 0.0
        while elapsed + every_s <= seconds:
            elapsed += every_s
            out += self.step(every_s, values)
        if elapsed < seconds:
            out += self.step(seconds - elapsed, values)
        return out


def only(out: list[AlertCandidate]) -> AlertCandidate:
    assert len(out) == 1, out
    return out[0]


def test_high_raises_at_once_with_referral() -> None:
    ward = Ward()
    assert ward.step(0, LOW) == []
    alert = only(ward.step(5, HIGH_7))
    assert (alert.rule_id, alert.action, alert.severity, alert.suggestion) == (
        "news2",
        "raise",
        "critical",
        "referral",
    )
    assert (alert.subject, alert.dedupe_key) == ("resident:42", "news2:resident:42")
    assert alert.ts == T0 + timedelta(seconds=5)
    readings = {k: v for k, v in alert.values.items() if k.startswith("value_")}
    assert (readings["value_spo2"], readings["value_rr"], readings["value_hr"]) == (91, 21, 111)
    assert {k: v for k, v in alert.values.items() if k not in readings} == {
        "total": 7,
        "band": "high",
        "scale": 1,
        "rr": 2,
        "spo2": 3,
        "on_o2": 0,
        "sbp": 0,
        "hr": 2,
        "acvpu": 0,
        "temp": 0,
    }
    assert alert.title.startswith("NEWS2 7")
    assert ward.step(1, HIGH_7) == []  # nothing new: no repeat


@pytest.mark.parametrize(
    ("values", "band", "persist_s"),
    [(LOW_MEDIUM, "low_medium", 60.0), (MEDIUM_5, "medium", 30.0), (MEDIUM_6, "medium", 30.0)],
    ids=["low_medium-60s", "medium-5-30s", "medium-6-30s"],
)
def test_raise_after_persistence(
    values: dict[str, float], band: AlertBand, persist_s: float
) -> None:
    ward = Ward()
    assert ward.step(0, values) == []
    assert ward.step(persist_s - 0.001, values) == []
    alert = only(ward.step(0.001, values))
    assert alert.action == "raise"
    assert alert.severity == SEVERITY_BY_BAND[band]
    assert alert.values["band"] == band and alert.suggestion is None
    assert alert.ts == T0 + timedelta(seconds=persist_s)


@pytest.mark.parametrize("tick_s", [1.0, 5.0, 15.0, 30.0], ids=["1s", "5s", "15s", "30s"])
def test_news2_5_detected_within_60s_at_any_tick_up_to_30s(tick_s: float) -> None:
    ward = Ward()
    ward.step(0, LOW)
    ward.step(3.3, MEDIUM_5)  # the data supports NEWS2 >= 5 from here
    supported = ward.now
    while not ward.emitted:
        ward.step(tick_s, MEDIUM_5)
    assert ward.emitted[0].severity == "high"
    assert ward.now - supported <= timedelta(seconds=60)


def test_blips_shorter_than_persistence_never_raise() -> None:
    ward = Ward()
    for _ in range(20):  # each blip is followed by more than the dip tolerance of low
        ward.hold(50, LOW_MEDIUM)
        ward.hold(80, LOW)
        ward.hold(20, MEDIUM_5)
        ward.hold(80, LOW_4)
    assert ward.emitted == []


def test_a_score_flickering_across_a_band_is_held_through_short_dips() -> None:
    """A deteriorating resident's score crosses 5 and falls back as readings land: dips
    shorter than the tolerance do not restart the hold, so it raises 30 s after the first 5."""
    ward = Ward()
    for _ in range(2):
        ward.hold(10, MEDIUM_5)
        ward.hold(10, LOW_4)
    raised = only(ward.step(10, MEDIUM_5))
    assert (raised.action, raised.values["band"]) == ("raise", "medium")
    assert raised.ts == T0 + timedelta(seconds=50)


def test_low_medium_then_medium_raises_then_escalates() -> None:
    ward = Ward()
    ward.step(0, LOW_MEDIUM)
    ward.step(50, MEDIUM_5)
    # Elevated for 60 s: raises at low_medium (the band confirmed), with the score as it is.
    alert = only(ward.step(10, MEDIUM_5))
    assert (alert.action, alert.severity, alert.values["band"], alert.values["total"]) == (
        "raise",
        "medium",
        "low_medium",
        5,
    )
    assert ward.step(19, MEDIUM_5) == []
    update = only(ward.step(1, MEDIUM_5))  # medium held 30 s
    assert (update.action, update.severity, update.values["band"]) == ("update", "high", "medium")


def test_update_when_total_changes_within_the_band() -> None:
    ward = Ward()
    ward.step(0, HIGH_7)
    update = only(ward.step(1, HIGH_8))
    assert (update.action, update.severity, update.values["total"], update.values["temp"]) == (
        "update",
        "critical",
        8,
        1,
    )
    assert update.suggestion == "referral"
    assert ward.step(1, HIGH_8) == []


def test_escalation_while_open_needs_the_same_persistence() -> None:
    ward = Ward()
    ward.step(0, LOW_MEDIUM)
    ward.hold(60, LOW_MEDIUM)
    assert only(ward.emitted).severity == "medium"
    # The new total is reported at once, at the alert's band, ...
    update = only(ward.step(5, MEDIUM_5))
    assert (update.severity, update.values["total"], update.values["band"]) == (
        "medium",
        5,
        "low_medium",
    )
    # ... and the band escalates once medium has held 30 s.
    assert ward.step(29, MEDIUM_5) == []
    assert only(ward.step(1, MEDIUM_5)).severity == "high"
    # High needs no persistence.
    escalated = only(ward.step(1, HIGH_7))
    assert (escalated.action, escalated.severity, escalated.suggestion) == (
        "update",
        "critical",
        "referral",
    )


def test_step_down_waits_for_hysteresis() -> None:
    ward = Ward()
    ward.step(0, HIGH_7)
    assert ward.step(1, MEDIUM_6) == []  # the window starts with the first lower score
    assert ward.hold(299, MEDIUM_6) == []
    update = only(ward.step(1, MEDIUM_6))
    assert (update.action, update.severity, update.values["total"], update.suggestion) == (
        "update",
        "high",
        6,
        None,
    )


def test_flicker_across_6_7_does_not_page_again() -> None:
    ward = Ward()
    ward.step(0, HIGH_7)
    for _ in range(60):
        ward.hold(20, MEDIUM_6, every_s=5)
        ward.hold(5, HIGH_7, every_s=5)
    assert [a.action for a in ward.emitted] == ["raise"]


def test_flicker_across_low_and_low_medium_neither_clears_nor_re_raises() -> None:
    ward = Ward()
    ward.step(0, LOW_MEDIUM)
    ward.hold(60, LOW_MEDIUM)
    for _ in range(20):
        ward.hold(240, LOW)  # shorter than clear_after_s
        ward.hold(10, LOW_MEDIUM)
    assert [a.action for a in ward.emitted] == ["raise"]


def test_clears_after_low_holds_and_next_episode_raises_anew() -> None:
    ward = Ward()
    ward.step(0, MEDIUM_5)
    ward.hold(30, MEDIUM_5)
    assert only(ward.emitted).action == "raise"
    ward.step(10, LOW_4)
    assert ward.hold(299, LOW_4) == []
    clear = only(ward.step(1, LOW_4))
    assert (clear.action, clear.severity, clear.dedupe_key) == (
        "clear",
        "high",
        "news2:resident:42",
    )
    assert clear.values["total"] == 4 and clear.values["band"] == "low"
    assert clear.ts == ward.now
    assert ward.state == News2State()
    # A new episode starts over, persistence included.
    assert ward.step(0, LOW_MEDIUM) == []
    assert ward.hold(59, LOW_MEDIUM) == []
    assert only(ward.step(1, LOW_MEDIUM)).action == "raise"


def test_step_down_goes_to_the_worst_band_of_the_window() -> None:
    ward = Ward()
    ward.step(0, HIGH_7)
    ward.step(0, LOW)
    ward.hold(200, LOW)
    ward.hold(30, MEDIUM_5)
    out = ward.hold(70, LOW)  # the window ends in low, but it saw medium
    update = only(out)
    assert (update.action, update.severity, update.values["band"], update.values["total"]) == (
        "update",
        "high",
        "medium",
        0,
    )
    # The next window started at the step down: low must still hold a whole window to clear.
    assert ward.hold(299, LOW) == []
    assert only(ward.step(1, LOW)).action == "clear"


def test_incomplete_score_raises_only_what_the_present_parameters_prove() -> None:
    ward = Ward()
    for _ in range(120):  # acvpu unknown and the rest low: nothing is proven
        assert ward.step(30, LOW_4, omit=("acvpu",)) == []
    raised = only(ward.step(1, HIGH_8, omit=("acvpu",)))
    assert (raised.action, raised.severity, raised.values["band"]) == ("raise", "critical", "high")
    assert raised.title.startswith("NEWS2 ≥ 8")  # a lower bound, and it says so
    assert raised.values["complete"] == "no: the total is a lower bound"
    assert raised.values["missing"] == "acvpu"


def test_incomplete_score_neither_clears_nor_steps_down() -> None:
    ward = Ward()
    ward.step(0, MEDIUM_5)
    ward.hold(30, MEDIUM_5)
    assert only(ward.emitted).action == "raise"
    for _ in range(60):
        assert ward.step(60, LOW, omit=("temp",)) == []
    # Missing temperature cannot hide what the rest proves: 7 without it is high already.
    update = only(ward.step(60, HIGH_8, omit=("temp",)))
    assert (update.action, update.values["band"]) == ("update", "high")
    for _ in range(60):
        assert ward.step(60, LOW, omit=("temp",)) == []
    # Back to complete and low: the clear window starts again now.
    assert ward.step(1, LOW) == []
    assert ward.hold(299, LOW) == []
    assert only(ward.step(1, LOW)).action == "clear"


def test_an_unprovable_moment_is_a_dip_and_a_long_one_restarts_the_hold() -> None:
    ward = Ward()
    ward.step(0, MEDIUM_5)
    ward.step(20, MEDIUM_5)
    ward.step(5, MEDIUM_5, omit=("rr",))  # only low-medium is proven without rr: a dip
    assert only(ward.step(5, MEDIUM_5)).ts == T0 + timedelta(seconds=30)  # held since 0 s
    again = Ward()
    again.step(0, MEDIUM_5)
    for _ in range(8):  # unproven for longer than the tolerance
        again.step(10, MEDIUM_5, omit=("rr",))
    back = again.now
    again.hold(40, MEDIUM_5)
    medium = [c for c in again.emitted if c.values["band"] == "medium"]
    # Seen again at the first 10 s step; the medium hold started over there: 30 s more.
    assert medium[0].ts == back + timedelta(seconds=10 + 30)


def test_stale_wearable_reading_makes_the_rule_incomplete() -> None:
    ward = Ward()
    ward.step(0, HIGH_7)
    # The wearable falls silent with the last values still high, then reports normal again.
    stale_from = ward.now
    readings = latest(HIGH_7, now=stale_from)
    for minutes in (5, 10, 11, 60):
        now = stale_from + timedelta(minutes=minutes)
        ward.state, out = news2_step(ward.state, readings, profile=PROFILE, now=now, config=CONFIG)
        assert out == []
    assert ward.state.alert_band == "high"


def test_scale_2_comes_from_the_profile() -> None:
    hypercapnic = {"spo2": 89, "on_o2": 1}  # in target on oxygen: 0 + 2 on scale 2
    scale_2 = Ward(PROFILE_SCALE_2)
    scale_2.hold(120, hypercapnic)
    assert scale_2.emitted == []
    scale_1 = Ward(PROFILE)
    scale_1.step(0, hypercapnic)
    scale_1.hold(60, hypercapnic)  # scale 1: 3 + 2 = 5
    alert = only(scale_1.emitted)
    assert alert.values["scale"] == 1 and alert.values["spo2"] == 3
    over_oxygenated = Ward(PROFILE_SCALE_2)
    alert = only(over_oxygenated.step(0, {"spo2": 97, "on_o2": 1, "rr": 21}))  # 3 + 2 + 2
    assert (alert.values["scale"], alert.values["spo2"], alert.severity) == (2, 3, "critical")


def test_assumptions_travel_with_the_alert() -> None:
    ward = Ward(PROFILE_SCALE_2)
    alert = only(ward.step(0, {"spo2": 83, "rr": 25, "hr": 131}, omit=("on_o2",)))
    assert "scored as on air" in str(alert.values["assumptions"])
    assert alert.values["missing"] == "on_o2"


# --- properties -----------------------------------------------------------------------------

VALUE_RANGES: dict[Parameter, tuple[float, float]] = {
    "rr": (3, 70),
    "spo2": (50, 100),
    "sbp": (50, 260),
    "hr": (20, 250),
    "temp": (30, 43),
}


@st.composite
def readings_strategy(draw: st.DrawFn) -> tuple[dict[str, Vital], Scale]:
    values: dict[str, float] = {
        p: draw(
            st.one_of(
                st.floats(lo, hi, allow_nan=False),
                st.integers(int(lo), int(hi)).map(float),
                st.integers(int(lo) * 10, int(hi) * 10).map(lambda v: v / 10),
            )
        )
        for p, (lo, hi) in VALUE_RANGES.items()
    }
    values["on_o2"] = draw(st.sampled_from([0.0, 1.0]))
    values["acvpu"] = draw(st.sampled_from(sorted(ACVPU_CODES.values())))
    scale: Scale = draw(st.sampled_from([1, 2]))
    return latest(values), scale


@given(readings_strategy())
def test_property_total_is_the_sum_and_band_follows(case: tuple[dict[str, Vital], Scale]) -> None:
    readings, scale = case
    result = compute_news2(readings, scale=scale, now=T0, config=CONFIG)
    assert result.complete and result.total is not None and result.band is not None
    scores = [s.score for s in result.sub_scores]
    assert result.total == sum(scores) == result.partial_total
    assert 0 <= result.total <= 20
    assert all(0 <= s <= 3 for s in scores) and len(scores) == len(PARAMETERS)
    expected: Band = (
        "high"
        if result.total >= 7
        else "medium"
        if result.total >= 5
        else "low_medium"
        if max(scores) == 3
        else "low"
    )
    assert result.band == expected
    # Scoring a reading is scoring its charted value.
    on_o2 = readings["on_o2"].value == 1
    for s in result.sub_scores:
        assert s.reading is not None
        assert s.score == sub_score(s.parameter, float(s.charted), scale=scale, on_oxygen=on_o2)


@given(readings_strategy(), st.sets(st.sampled_from(SCORED), min_size=1))
def test_property_incomplete_is_never_presented_as_complete(
    case: tuple[dict[str, Vital], Scale], dropped: set[Parameter]
) -> None:
    readings, scale = case
    present = {k: v for k, v in readings.items() if k not in dropped}
    result = compute_news2(present, scale=scale, now=T0, config=CONFIG)
    assert not result.complete and result.total is None and result.band is None
    assert set(result.missing) == dropped
    assert result.partial_total == sum(s.score for s in result.sub_scores)
    full = compute_news2(readings, scale=scale, now=T0, config=CONFIG)
    assert full.total is not None and result.partial_total <= full.total


def test_a_total_flickering_within_the_band_updates_only_when_it_worsens() -> None:
    ward = Ward()
    ward.hold(30, MEDIUM_5)
    for _ in range(10):
        ward.hold(10, MEDIUM_6)
        ward.hold(10, MEDIUM_5)
    actions = [(c.action, c.values["total"]) for c in ward.emitted]
    assert actions == [("raise", 6)]  # raised at the worst seen; 5-6-5-6… says nothing new


# --- oxygen unknown is missing data (issue 12, item 3) -------------------------------------


def test_stale_oxygen_neither_clears_nor_steps_down_a_scale_2_alert() -> None:
    """A scale-2 resident on oxygen at NEWS2 5: once the "on oxygen" entry goes stale, taking
    air would read SpO2 95 as 0 and clear the alert. Unknown oxygen is missing data."""
    on_oxygen = {"spo2": 95, "on_o2": 1, "hr": 91}  # scale 2 on oxygen: 2 + 2 + 1 = 5
    charted_at = T0
    oxygen = Vital(charted_at, "on_o2", 1, "manual")
    state, emitted = News2State(), []
    now = T0
    while now <= T0 + timedelta(hours=14):  # past every window the entry could have
        readings = {**latest(on_oxygen, now=now), "on_o2": oxygen}
        state, out = news2_step(state, readings, profile=PROFILE_SCALE_2, now=now, config=CONFIG)
        emitted += out
        now += timedelta(minutes=5)
    assert [(c.action, c.values["band"]) for c in emitted] == [("raise", "medium")]
    assert state.alert_band == "medium"
    stale = compute_news2(
        {**latest(on_oxygen, now=now), "on_o2": oxygen}, scale=2, now=now, config=CONFIG
    )
    assert not stale.complete and stale.missing == ("on_o2",) and stale.proven_band is None


# --- an incomplete score shows the band it proves (item 4) ----------------------------------

DEVICE_14 = {"rr": 25, "spo2": 91, "hr": 131, "temp": 39.1, "sbp": 90}  # 3 + 3 + 3 + 2 + 3


@pytest.mark.parametrize(
    ("values", "omit", "proven"),
    [
        (DEVICE_14, ("acvpu",), "high"),
        ({"rr": 25, "hr": 111}, ("acvpu",), "medium"),  # 3 + 2
        ({"spo2": 91}, ("acvpu",), "low_medium"),  # a single 3: urgent ward review
        ({"hr": 111}, ("acvpu",), None),  # 2: nothing above low is proven
        ({}, ("acvpu", "on_o2"), None),
    ],
    ids=["14-high", "5-medium", "single-3", "2-nothing", "0-nothing"],
)
def test_incomplete_score_proves_a_band(
    values: dict[str, float], omit: tuple[str, ...], proven: Band | None
) -> None:
    result = score(values, omit=omit)
    assert not result.complete and result.band is None
    assert result.proven_band == proven


def test_complete_score_proves_its_own_band() -> None:
    assert score(DEVICE_14).proven_band == score(DEVICE_14).band == "high"
    assert score().proven_band == "low"


def test_alert_title_says_the_band_and_what_is_missing() -> None:
    alert = only(Ward().step(0, DEVICE_14, omit=("acvpu", "on_o2")))
    assert alert.severity == "critical" and alert.values["band"] == "high"
    assert (
        alert.title == "NEWS2 ≥ 14: high clinical risk (missing or out of date: air/oxygen, ACVPU)"
    )
    single = Ward()
    out = [c for _ in range(7) for c in single.step(10, {"spo2": 91}, omit=("acvpu",))]
    alert = only(out)
    assert alert.title == "NEWS2 ≥ 3: low-medium clinical risk (missing or out of date: ACVPU)"
    complete = only(Ward().step(0, HIGH_7))
    assert complete.title == "NEWS2 7: high clinical risk"


# --- freshness follows the risk (item 5) -----------------------------------------------------


@pytest.mark.parametrize(
    ("total", "top", "level"),
    [
        (0, 0, "zero"),
        (1, 1, "low"),
        (4, 2, "low"),
        (3, 3, "low_medium"),
        (5, 3, "medium"),
        (6, 2, "medium"),
        (7, 3, "high"),
        (20, 3, "high"),
    ],
)
def test_risk_level(total: int, top: int, level: str) -> None:
    assert risk_level(total, top) == level


# Device values scoring 5 (medium, hourly) and 0 (12-hourly); BP, ACVPU, oxygen from a round.
DEVICE_5 = {"spo2": 91, "rr": 21}


def at_age(values: Mapping[str, float], sbp_age_s: float) -> News2Result:
    return score(values, ages={"sbp": sbp_age_s})


def test_manual_values_count_for_the_interval_of_the_risk_level_plus_grace() -> None:
    hourly = 3600 + 900
    assert at_age(DEVICE_5, hourly).complete
    late = at_age(DEVICE_5, hourly + 1)
    assert not late.complete and late.missing == ("sbp",)
    assert late.gaps[0].reason == "stale"
    assert late.proven_band == "medium"  # still shown for what it is
    # The same round value at no risk counts until its own window (8 h < 12 h + grace).
    assert at_age({}, 8 * 3600).complete
    assert not at_age({}, 8 * 3600 + 1).complete
    # 1-4: six-hourly.
    assert at_age({"hr": 91}, 6 * 3600 + 900).complete
    assert not at_age({"hr": 91}, 6 * 3600 + 901).complete


def test_device_values_keep_their_own_windows_whatever_the_risk() -> None:
    result = score(DEVICE_5, ages={"temp": 7 * 3600})  # temperature from a FHIR feed here
    assert result.complete


def test_the_level_comes_from_the_score_over_the_plain_windows() -> None:
    # SBP 100 scores 2 while it counts: the level is medium with it (hourly), so two hours
    # on it no longer counts and the score is incomplete rather than "low"; as evidence of
    # risk the round still counts: medium is proven.
    result = score({"spo2": 91, "sbp": 100}, ages={"sbp": 2 * 3600})
    assert result.observations is not None and result.observations.level == "medium"
    assert result.missing == ("sbp",) and result.partial_total == 3
    assert (result.proven_band, result.proven_total) == ("medium", 5)


def test_an_overdue_round_still_raises_but_cannot_vouch_for_improvement() -> None:
    """A round three hours ago charted SBP 100 and 38.5 °C (2 + 1); the wearable adds 2: NEWS2
    5. Hourly observations are overdue, yet the alert is raised as before; once the wearable
    settles, the old round cannot clear it."""
    round_at = T0 - timedelta(hours=3)
    charted = {
        "sbp": Vital(round_at, "sbp", 100, "manual"),
        "temp": Vital(round_at, "temp", 38.5, "manual"),
    }
    state, emitted, now = News2State(), [], T0
    for minute in range(40):
        values = {"rr": 21} if minute < 20 else {}
        readings = {**latest(values, now=now), **charted}
        state, out = news2_step(state, readings, profile=PROFILE, now=now, config=CONFIG)
        emitted += out
        now += timedelta(minutes=1)
    assert [(c.action, c.values["band"]) for c in emitted] == [("raise", "medium")]
    assert emitted[0].title == (
        "NEWS2 ≥ 5: medium clinical risk (missing or out of date: SBP, temp)"
    )
    assert state.alert_band == "medium"
    # A current round vouches for the improvement: low for the clear window, then clear.
    charted = {m: Vital(now, m, v, "manual") for m, v in (("sbp", 120), ("temp", 37.0))}
    for _ in range(6):
        state, out = news2_step(
            state, {**latest(now=now), **charted}, profile=PROFILE, now=now, config=CONFIG
        )
        emitted += out
        now += timedelta(minutes=1)
    assert [c.action for c in emitted] == ["raise", "clear"]


def test_observations_due_then_overdue() -> None:
    fresh = at_age(DEVICE_5, 30 * 60)
    assert fresh.observations is not None
    assert (fresh.observations.status, fresh.observations.parameters) == ("ok", ())
    assert fresh.observations.every_s == 3600.0
    # The round's SBP (30 min old) falls due first, at an hour.
    assert fresh.observations.due_at == T0 + timedelta(minutes=30)
    due = at_age(DEVICE_5, 3600)
    assert due.observations is not None
    assert (due.observations.status, due.observations.parameters) == ("due", ("sbp",))
    overdue = at_age(DEVICE_5, 3600 + 901)
    assert overdue.observations is not None
    assert (overdue.observations.status, overdue.observations.parameters) == (
        "overdue",
        ("sbp",),
    )


def test_a_parameter_nobody_measured_is_overdue_and_devices_are_never_due() -> None:
    result = score(DEVICE_5, omit=("acvpu",))
    assert result.observations is not None
    assert (result.observations.status, result.observations.parameters) == (
        "overdue",
        ("acvpu",),
    )
    # rr, spo2, hr (devices) and temp (a feed) never fall due; sbp, acvpu, on_o2 are manual.
    ok = score(DEVICE_5)
    assert ok.observations is not None and ok.observations.status == "ok"
    assert ok.observations.due_at == T0 + timedelta(hours=1)


def test_observation_intervals_are_configuration() -> None:
    config = News2Config.model_validate({"observe_every_s": {"medium": 1800, "high": 600}})
    readings = latest(DEVICE_5, ages={"sbp": 1800 + 901})
    assert compute_news2(readings, scale=1, now=T0, config=CONFIG).complete
    assert compute_news2(readings, scale=1, now=T0, config=config).missing == ("sbp",)
