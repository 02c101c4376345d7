"""A generated scenario: its residents' merged observation stream (regenerated on every
replay) and its labels."""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from device_sim.scenarios.labels import cluster_labels, resident_labels
from device_sim.scenarios.plan import ResidentPlan, plan_residents
from device_sim.scenarios.spec import ScenarioSpec
from device_sim.scenarios.stream import resident_stream
from device_sim.scenarios.truth import Label
from rules.engine import RulesConfig
from rules.types import Observation, ResidentProfile


@dataclass(frozen=True, slots=True)
class Scenario:
    """A generated scenario. `observations()` replays the same stream on every call (it is
    regenerated, not stored: a ward's week is millions of readings)."""

    spec: ScenarioSpec
    seed: int
    profiles: tuple[ResidentProfile, ...]
    labels: tuple[Label, ...]
    _residents: tuple[ResidentPlan, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def start(self) -> datetime:
        return self.spec.start

    @property
    def end(self) -> datetime:
        return self.spec.end

    @property
    def resident_days(self) -> float:
        return len(self.profiles) * self.spec.duration_s / 86400

    def observations(self) -> Iterator[tuple[int, Observation]]:
        """Every observation of every resident, in timestamp order."""
        streams = [_keyed(r, self.spec) for r in self._residents]
        for _ts, rid, _n, obs in heapq.merge(*streams, key=lambda x: (x[0], x[1], x[2])):
            yield rid, obs


def _keyed(r: ResidentPlan, spec: ScenarioSpec) -> Iterator[tuple[datetime, int, int, Observation]]:
    for n, obs in enumerate(resident_stream(r, spec)):
        yield obs.ts, r.rid, n, obs


def generate(spec: ScenarioSpec, seed: int | None = None) -> Scenario:
    """The scenario's residents, its (lazy) observation stream and its labels. Same spec and
    seed: the same observations and labels."""
    seed = spec.seed if seed is None else seed
    residents = plan_residents(spec, seed)
    labels: list[Label] = []
    config = RulesConfig()
    for r in residents:
        # Every resident: the physiology alone may make a real event (a long night absence,
        # a sustained NEWS2 of 5) that no script asked for.
        labels += resident_labels(spec, r, config)
    labels += cluster_labels(spec, residents, labels, config)
    return Scenario(
        spec=spec,
        seed=seed,
        profiles=tuple(r.profile for r in residents),
        labels=tuple(sorted(labels, key=lambda lab: (lab.onset, lab.subject, lab.family))),
        _residents=tuple(residents),
    )
