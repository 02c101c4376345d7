"""The watch period's overrides laid over a resident's own and taken back off, key by key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rules.engine import RulesConfig
from services.referrals.watch import WATCH_OVERRIDES, apply, leaves, restore
from services.resident_rules import check_resident_overrides, effective_rules


def test_the_watch_validates_and_tightens_news2() -> None:
    check_resident_overrides(None, WATCH_OVERRIDES)
    plain = RulesConfig().news2
    watched = effective_rules(None, WATCH_OVERRIDES, resident_id=1).news2
    assert watched.observe_every_s.zero < plain.observe_every_s.zero
    assert watched.observe_every_s.low < plain.observe_every_s.low
    assert watched.raise_after_s.low_medium < plain.raise_after_s.low_medium
    assert watched.raise_after_s.medium < plain.raise_after_s.medium


OWN_CASES: list[dict[str, Any]] = [
    {},
    {"news2": {"observe_every_s": {"zero": 28_800.0}}},
    {"vitals": {"max_gap_s": 300.0}, "news2": {"clear_after_s": 600.0}},
]


@pytest.mark.parametrize("own", OWN_CASES, ids=["none", "same key", "other keys"])
def test_apply_then_restore_gives_back_the_residents_own(own: dict[str, Any]) -> None:
    merged, saved = apply(own, WATCH_OVERRIDES)
    for path, value in leaves(WATCH_OVERRIDES).items():
        assert leaves(merged)[path] == value
    # What is stored goes through JSON (jsonb).
    saved = json.loads(json.dumps(saved))
    assert restore(merged, WATCH_OVERRIDES, saved) == own


def test_a_key_staff_changed_during_the_watch_keeps_their_value() -> None:
    merged, saved = apply({}, WATCH_OVERRIDES)
    merged["news2"]["observe_every_s"]["zero"] = 14_400.0
    restored = restore(merged, WATCH_OVERRIDES, saved)
    assert restored == {"news2": {"observe_every_s": {"zero": 14_400.0}}}
