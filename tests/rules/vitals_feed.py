"""A resident's vital-sign readings fed through rules.vitals.vitals_step on a fake clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from rules.types import AlertCandidate, ResidentProfile, Source, Vital
from rules.vitals import VitalsRuleState, vitals_step
from rules.vitals_config import VitalsConfig

T0 = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
CFG = VitalsConfig()
RESIDENT = ResidentProfile(resident_id=7, site_id="site-a", unit_id="unit-1")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def open_rules(state: VitalsRuleState) -> frozenset[str]:
    """The rules with a condition raised (level 0 and up)."""
    return frozenset(r for r, c in state.conditions.items() if c.level >= 0)


class Feed:
    """Drives vitals_step with a fake clock: `now` is each reading's time unless given."""

    def __init__(self, profile: ResidentProfile = RESIDENT, config: VitalsConfig = CFG) -> None:
        self.profile = profile
        self.config = config
        self.state = VitalsRuleState.empty()
        self.out: list[AlertCandidate] = []

    def __call__(
        self,
        t: float,
        metric: str,
        value: float,
        *,
        source: Source = "vitals",
        now: float | None = None,
        suppressed: bool = False,
    ) -> list[AlertCandidate]:
        self.state, candidates = vitals_step(
            self.state,
            Vital(at(t), metric, value, source),
            profile=self.profile,
            now=at(t if now is None else now),
            config=self.config,
            suppressed=suppressed,
        )
        self.out.extend(candidates)
        return candidates

    def series(
        self, metric: str, values: Iterable[tuple[float, float]], **kw: Any
    ) -> list[AlertCandidate]:
        got: list[AlertCandidate] = []
        for t, value in values:
            got.extend(self(t, metric, value, **kw))
        return got

    def hold(
        self, metric: str, value: float, start: float, end: float, step: float = 1.0, **kw: Any
    ) -> list[AlertCandidate]:
        """One reading every `step` seconds from start to end inclusive."""
        n = round((end - start) / step)
        return self.series(metric, ((start + i * step, value) for i in range(n + 1)), **kw)

    def actions(self) -> list[tuple[str, str, str]]:
        return [(c.action, c.rule_id, c.severity) for c in self.out]
