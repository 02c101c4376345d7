"""Vital-sign settings: the documented defaults, per-resident overrides (deep-merged, errors
naming the key), the compiled plan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rules.config import with_overrides
from rules.errors import OverrideError
from tests.rules.vitals_feed import CFG, Feed


def test_defaults_are_what_the_docs_say() -> None:
    assert CFG.spo2.low is not None and CFG.spo2.low.persistence_s == 15
    assert CFG.spo2.low.threshold == 90 and CFG.spo2.low.clear_margin == 2
    assert CFG.spo2_scale2.low is not None and CFG.spo2_scale2.low.threshold == 85
    assert CFG.temp.high is None  # fever is the baseline module's


@pytest.mark.parametrize(
    "overrides",
    [
        {"spo2": {"low": {"threshold": 88}}},
        {"spo2.low.threshold": 88},
        {"spo2.low": {"threshold": 88}},
    ],
    ids=["nested", "dotted", "mixed"],
)
def test_override_deep_merges(overrides: dict[str, Any]) -> None:
    cfg = with_overrides(CFG, overrides)
    assert cfg.spo2.low is not None and cfg.spo2.low.threshold == 88
    assert cfg.spo2.low.persistence_s == 15  # untouched siblings kept
    assert CFG.spo2.low is not None and CFG.spo2.low.threshold == 90  # original unchanged
    feed = Feed(config=cfg)
    assert feed.hold("spo2", 89, 0, 60) == []
    assert [c.action for c in feed.hold("spo2", 87.5, 61, 80)] == ["raise"]


def test_override_switches_limits_off_and_on() -> None:
    cfg = with_overrides(CFG, {"hr.low": None, "dbp": {"low": {"threshold": 50}}})
    feed = Feed(config=cfg)
    feed.hold("hr", 35, 0, 300)
    feed(0, "dbp", 45, source="manual")
    assert feed.actions() == [("raise", "vital.dbp.low", "high")]


def test_config_plan_is_not_shared_by_copies() -> None:
    assert CFG.plan is CFG.plan
    copy = CFG.model_copy(update={"max_gap_s": 5.0})
    assert copy.plan is not CFG.plan and copy.plan.scale1["spo2"].max_gap == timedelta(seconds=5)


BAD_OVERRIDES = [
    ({"spo2.low.treshold": 88}, "spo2.low.treshold", "Extra inputs"),
    ({"spo2": {"low": {"threshold": "ninety"}}}, "spo2.low.threshold", "number"),
    ({"spo2.low.threshold": 0.9}, "spo2", "plausible range 50-100 %"),
    ({"hr.low.severity": "urgent"}, "hr.low.severity", "'critical'"),
    ({"max_gap_s": -1}, "max_gap_s", "greater than 0"),
    ({"spo2.low.persistence_s": float("nan")}, "spo2.low.persistence_s", "finite"),
    ({"hr.low.threshold": 125}, "hr", "below high.threshold"),
    (
        {"spo2.low.tiers": [{"threshold": 95, "severity": "critical"}]},
        "spo2",
        "more extreme",
    ),
    ({"nonsense": 1}, "nonsense", "Extra inputs"),
    ({"spo2..low": 1}, "'spo2..low'", "dotted names"),
    ({"spo2": {"low": {"": 1}}}, "'spo2.low.'", "dotted names"),
    ({"spot_sources": ["pager"]}, "spot_sources.0", "'manual'"),
]


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    BAD_OVERRIDES,
    ids=[k for _, k, _ in BAD_OVERRIDES],
)
def test_bad_override_names_the_key(overrides: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(OverrideError) as info:
        with_overrides(CFG, overrides)
    assert key in info.value.keys
    assert key in str(info.value) and message in str(info.value)
