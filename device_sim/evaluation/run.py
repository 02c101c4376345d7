"""Replay generated scenarios through the same rule engine the detector runs (no broker, no
database): observations in timestamp order with `now` = their time, and ticks as time passes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from device_sim.evaluation.metrics import Emitted, Report, evaluate
from device_sim.scenarios import Label, Scenario, ScenarioSpec, Split, generate, load_library
from rules.engine import Engine, RulesConfig


def replay(
    scenario: Scenario, config: RulesConfig | None = None, tick_s: float | None = None
) -> list[Emitted]:
    """Every candidate the engine emits over the scenario, with its emission time. The engine
    ticks every `tick_s` of simulated time (default: the scenario's own, 1 s unless its file
    says otherwise), between observations and on to the scenario's end."""
    step = timedelta(seconds=tick_s if tick_s is not None else scenario.spec.tick_s)
    if step <= timedelta(0):
        raise ValueError("tick_s must be positive")
    engine = Engine(config)
    for profile in scenario.profiles:
        engine.set_resident(profile)
    out: list[Emitted] = []
    name = scenario.name
    next_tick = scenario.start + step
    for resident_id, obs in scenario.observations():
        ts = obs.ts
        while next_tick <= ts:
            out += [Emitted(next_tick, c, name) for c in engine.tick(now=next_tick)]
            next_tick += step
        out += [Emitted(ts, c, name) for c in engine.observe(resident_id, obs, now=ts)]
    while next_tick <= scenario.end:
        out += [Emitted(next_tick, c, name) for c in engine.tick(now=next_tick)]
        next_tick += step
    return out


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    scenario: Scenario
    emitted: tuple[Emitted, ...]
    seconds: float  # wall time of the replay


def run_all(specs: Iterable[ScenarioSpec], config: RulesConfig | None = None) -> list[ScenarioRun]:
    runs: list[ScenarioRun] = []
    for spec in specs:
        scenario = generate(spec)
        began = time.perf_counter()
        emitted = replay(scenario, config)
        runs.append(ScenarioRun(scenario, tuple(emitted), time.perf_counter() - began))
    return runs


def score(runs: Sequence[ScenarioRun]) -> Report:
    labels: list[Label] = [lab for r in runs for lab in r.scenario.labels]
    emitted = [e for r in runs for e in r.emitted]
    days = sum(r.scenario.resident_days for r in runs)
    return evaluate(labels, emitted, resident_days=days)


def evaluate_library(
    split: Split | None = None,
    *,
    names: Sequence[str] = (),
    config: RulesConfig | None = None,
) -> tuple[list[ScenarioRun], Report]:
    """Load the library (one split, or named scenarios), replay and score it."""
    specs = load_library(split=split)
    if names:
        specs = [s for s in specs if s.name in names]
    runs = run_all(specs, config)
    return runs, score(runs)
