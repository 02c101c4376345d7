"""NEWS2 (Royal College of Physicians, National Early Warning Score 2, 2017): the chart
(`chart`), the configuration (`config`), what a device's stream counts as (`continuous`), the
score at a time (`score`) and the rule that raises, updates and clears its alert (`rule`)."""

from rules.news2.chart import (
    ALERT_BANDS,
    BANDS,
    DETECTION_LATENCY_LIMIT_S,
    LEVELS,
    PARAMETERS,
    RULE_ID,
    SEVERITY_BY_BAND,
    AlertBand,
    Band,
    GapReason,
    ObservationStatus,
    Parameter,
    RiskLevel,
    Scale,
    band_rank,
    charted_value,
    clinical_band,
    risk_level,
    sub_score,
)
from rules.news2.config import (
    ContinuousConfig,
    FreshnessWindows,
    News2Config,
    ObservationIntervals,
    RaiseAfter,
)
from rules.news2.continuous import DeviceHistory, note_motion, note_reading, resting_view
from rules.news2.rule import News2State, news2_step
from rules.news2.score import Gap, News2Result, ObservationsDue, SubScore, compute_news2

__all__ = [
    "ALERT_BANDS",
    "BANDS",
    "DETECTION_LATENCY_LIMIT_S",
    "LEVELS",
    "PARAMETERS",
    "RULE_ID",
    "SEVERITY_BY_BAND",
    "AlertBand",
    "Band",
    "ContinuousConfig",
    "DeviceHistory",
    "FreshnessWindows",
    "Gap",
    "GapReason",
    "News2Config",
    "News2Result",
    "News2State",
    "ObservationIntervals",
    "ObservationStatus",
    "ObservationsDue",
    "Parameter",
    "RaiseAfter",
    "RiskLevel",
    "Scale",
    "SubScore",
    "band_rank",
    "charted_value",
    "clinical_band",
    "compute_news2",
    "news2_step",
    "note_motion",
    "note_reading",
    "resting_view",
    "risk_level",
    "sub_score",
]
