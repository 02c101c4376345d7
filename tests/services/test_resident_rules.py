"""The one loader of a resident's effective rule configuration (services/resident_rules.py):
layers validated one by one, a bad stored layer dropped alone and logged, the API's check."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from rules.errors import OverrideError
from rules.news2 import News2Config
from services.readings import news2_lookback
from services.resident_rules import (
    check_resident_overrides,
    effective_rules,
)

# Valid alone, invalid merged: raise_after_s must not be longer for a worse band
# (high <= medium), and the site made medium 10 s.
SITE = {"news2": {"raise_after_s": {"medium": 10}}, "vitals": {"sbp.max_age_s": 3600}}
CLASHING = {"news2.raise_after_s.high": 20}


def test_site_then_resident_overrides_apply_in_order() -> None:
    config = effective_rules(
        SITE, {"news2": {"raise_after_s": {"medium": 5}}, "vitals.hr.low": None}, resident_id=1
    )
    assert config.news2.raise_after_s.medium == 5  # the resident's wins
    assert config.vitals.sbp.max_age_s == 3600  # the site's kept
    assert config.vitals.hr.low is None


def test_a_resident_override_that_fails_merged_keeps_the_sites_overrides(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Alone it validates (the default medium is 30 s) ...
    effective_rules(None, CLASHING, resident_id=1)
    check_resident_overrides(None, CLASHING)
    with caplog.at_level(logging.ERROR, logger="carewatch.rules"):
        config = effective_rules(SITE, CLASHING, resident_id=42)
    # ... merged over the site's it does not: the site's valid overrides still apply.
    assert config.news2.raise_after_s.medium == 10
    assert config.news2.raise_after_s.high == 0
    assert config.vitals.sbp.max_age_s == 3600
    assert "resident 42: own rule overrides ignored" in caplog.text
    assert "news2.raise_after_s" in caplog.text


def test_a_bad_site_override_falls_back_to_the_defaults_and_keeps_the_residents(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="carewatch.rules"):
        config = effective_rules(
            {"vitals": {"spo2.low.threshold": 0.9}}, {"vitals.sbp.max_age_s": 60}, resident_id=3
        )
    assert config.vitals.spo2.low is not None and config.vitals.spo2.low.threshold == 90
    assert config.vitals.sbp.max_age_s == 60
    assert "the site's rule overrides ignored" in caplog.text


def test_the_api_check_names_the_key_at_fault() -> None:
    with pytest.raises(OverrideError) as info:
        check_resident_overrides(SITE, CLASHING)
    assert info.value.keys == ("news2.raise_after_s",)
    with pytest.raises(OverrideError) as info:
        check_resident_overrides(None, {"vitals": {"spo2": {"persist_s": -5}}})
    assert info.value.keys == ("vitals.spo2.persist_s",)


def test_equal_overrides_share_one_validated_config() -> None:
    a = effective_rules(SITE, None, resident_id=1)
    b = effective_rules(dict(reversed(list(SITE.items()))), {}, resident_id=2)
    assert a is b


def test_news2_lookback_is_the_longest_freshness_window() -> None:
    assert news2_lookback(News2Config()) == timedelta(hours=12)
    config = effective_rules(None, {"news2.max_age_s.sbp": 30 * 3600}, resident_id=1)
    assert news2_lookback(config.news2) == timedelta(hours=30)
