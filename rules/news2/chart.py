"""The NEWS2 chart (Royal College of Physicians, National Early Warning Score 2, 2017): its
parameters, bands and the score of one reading."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from typing import Final, Literal

from rules.types import Severity

Parameter = Literal["rr", "spo2", "on_o2", "sbp", "hr", "acvpu", "temp"]
Scale = Literal[1, 2]
Band = Literal["low", "low_medium", "medium", "high"]
AlertBand = Literal["low_medium", "medium", "high"]
GapReason = Literal["absent", "stale", "invalid"]
# RCP 2017's monitoring levels (chart 2): aggregate 0, 1-4, a single 3, 5-6, >= 7.
RiskLevel = Literal["zero", "low", "low_medium", "medium", "high"]
ObservationStatus = Literal["ok", "due", "overdue"]
LEVELS: Final[tuple[RiskLevel, ...]] = ("zero", "low", "low_medium", "medium", "high")

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


def band_rank(band: Band) -> int:
    """Rank of a band, low = 0 (for comparing bands)."""
    return BANDS.index(band)


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
