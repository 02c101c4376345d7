"""Labelled scenarios for measuring detection: a spec (from a YAML file), a deterministic
generator of the observations the rules would see, and the ground truth they should find.

Pure: no clock, no I/O except reading spec files; all randomness comes from the seed.
Labels say what a rule family must raise (positive) or must not raise (negative) for a
subject between `onset` and `window_end`. Where the rules need the data to persist first,
`detectable_at` is computed from the emitted values themselves (NEWS2 with
`rules.news2.compute_news2`, thresholds with their persistence), never from the event's intent.

The spec (spec.py) is planned per resident (plan.py), each resident's stream generated from
the plan (stream.py); the labels (truth.py) come from the scripted events (labels.py, with
the onsets of onsets.py) and from what the physiology made alone (spontaneous.py);
scenario.py puts them together.
"""

from device_sim.scenarios.scenario import Scenario, generate
from device_sim.scenarios.spec import (
    EVENT_KINDS,
    LIBRARY,
    SPLITS,
    EventKind,
    EventSpec,
    ResidentSpec,
    ScenarioError,
    ScenarioSpec,
    Split,
    load_library,
    load_spec,
    parse_duration,
    spec_from_dict,
)
from device_sim.scenarios.truth import Label

__all__ = [
    "EVENT_KINDS",
    "LIBRARY",
    "SPLITS",
    "EventKind",
    "EventSpec",
    "Label",
    "ResidentSpec",
    "Scenario",
    "ScenarioError",
    "ScenarioSpec",
    "Split",
    "generate",
    "load_library",
    "load_spec",
    "parse_duration",
    "spec_from_dict",
]
