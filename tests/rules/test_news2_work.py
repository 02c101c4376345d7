"""What the engine's NEWS2 path no longer does: score an idle resident whose values can only
score "low", and recompute the resting value of a stream that did not move. (That it scores
exactly as before: tests/rules/test_news2_equivalence.py.)"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import rules.news2.continuous
from rules.engine import Engine, RulesConfig
from rules.news2 import News2State
from rules.news2.rule import news2_step
from rules.types import Vital
from tests.rules.conftest import local, profile

T0 = local(10)
RID = 7
REPORT = ("hr", "rr", "spo2")
AT_REST = {"hr": 76.0, "rr": 18.0}


def _flicker(engine: Engine, seconds: int) -> None:
    """A resident at rest reporting every second, SpO2 crossing the 95/96 edge (chart score 1
    and 0) at every report of it: each crossing re-scores NEWS2."""
    for s in range(seconds):
        metric = REPORT[s % 3]
        value = (95.0 if s % 2 else 97.0) if metric == "spo2" else AT_REST[metric]
        t = T0 + timedelta(seconds=s)
        engine.observe(RID, Vital(t, metric, value, "vitals", "w1"), now=t)


def test_an_idle_resident_is_not_scored_when_nothing_can_raise() -> None:
    engine = Engine(RulesConfig())
    engine.set_resident(profile(resident_id=RID))
    with mock.patch("rules.engine.news2_step", wraps=news2_step) as scored:
        _flicker(engine, 300)
    assert engine.residents[RID].news2_at is not None  # it was re-scored
    assert scored.call_count == 0
    assert engine.residents[RID].news2 == News2State()


def test_a_rescore_recomputes_only_the_streams_that_moved() -> None:
    engine = Engine(RulesConfig())
    engine.set_resident(profile(resident_id=RID))
    _flicker(engine, 60)
    r = engine.residents[RID]
    now = T0 + timedelta(seconds=60)
    with mock.patch(
        "rules.engine.resting_value", wraps=rules.news2.continuous.resting_value, create=False
    ) as computed:
        engine._resting_view(r, now=now)  # the last report's re-score already computed it
        assert computed.call_count == 0
        t = now
        engine.observe(RID, Vital(t, "hr", 77.0, "vitals", "w1"), now=t)  # hr's chart score: 0
        engine._resting_view(r, now=t)
    assert [c.args[0] for c in computed.call_args_list] == ["hr"]
