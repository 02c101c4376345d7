"""The engine composes the rules: suppression, NEWS2 inputs, fever clusters, snapshots."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

import pytest

from rules.engine import Engine, ResidentRules, RulesConfig, motion_is_active
from rules.errors import OverrideError
from rules.state_codec import decode, encode
from rules.types import (
    ACVPU_CODES,
    AlertCandidate,
    DeviceEvent,
    DeviceStatus,
    Motion,
    Observation,
    Vital,
)
from tests.rules.conftest import local, profile

T0 = local(10)


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def engine_with(
    *resident_ids: int, unit: str = "u", overrides: Mapping[str, object] | None = None
) -> Engine:
    engine = Engine(RulesConfig())
    for rid in resident_ids:
        engine.set_resident(profile(resident_id=rid, unit_id=unit), overrides or None)
    return engine


def feed(engine: Engine, items: list[tuple[int, Observation]]) -> list[AlertCandidate]:
    out: list[AlertCandidate] = []
    for rid, obs in items:
        out += engine.observe(rid, obs, now=obs.ts)
    return out


def spo2_stream(rid: int, values: Iterator[tuple[float, float]]) -> list[tuple[int, Observation]]:
    return [(rid, Vital(seconds(t), "spo2", v, "vitals", "w1")) for t, v in values]


def through_json(engine: Engine) -> Engine:
    """A new engine with the residents' rule states written to JSON and read back."""
    hints = typing.get_type_hints(ResidentRules)
    copy = Engine(engine.config)
    for rid, rules in engine.residents.items():
        copy.set_resident(rules.profile, None)
        for name in (n for n in hints if n not in ("profile", "config")):
            doc = json.loads(json.dumps(encode(getattr(rules, name), hints[name])))
            setattr(copy.residents[rid], name, decode(doc, hints[name]))
    return copy


def raised(out: list[AlertCandidate]) -> list[str]:
    return [c.rule_id for c in out if c.action == "raise"]


def test_desaturation_from_the_wearable_raises_after_persistence() -> None:
    engine = engine_with(1)
    out = feed(engine, spo2_stream(1, ((t, 97.0 if t < 10 else 86.0) for t in range(40))))
    assert "vital.spo2.low" in raised(out)
    first = next(c for c in out if c.rule_id == "vital.spo2.low")
    assert first.ts >= seconds(10 + 15)  # persistence held before paging


def test_wearable_off_suppresses_its_vitals() -> None:
    engine = engine_with(1)
    feed(engine, [(1, DeviceEvent(seconds(0), "w1", "wear_off"))])
    out = feed(engine, spo2_stream(1, ((t, 80.0) for t in range(1, 60))))
    assert "vital.spo2.low" not in raised(out)


def test_last_will_raises_offline_and_silence_is_not_wellness() -> None:
    engine = engine_with(1)
    out = feed(engine, spo2_stream(1, ((t, 97.0) for t in range(5))))
    out = feed(engine, [(1, DeviceStatus(seconds(6), "w1", online=False))])
    assert raised(out) == []  # a will pages only after the grace period
    out = engine.tick(now=seconds(6 + 120))
    assert raised(out) == ["device.offline"]
    out = engine.tick(now=seconds(3600))
    assert "device.offline" not in raised(out)  # raised once, still open


def test_news2_from_wearable_and_manual_observations() -> None:
    engine = engine_with(1)
    items: list[tuple[int, Observation]] = [
        (1, Vital(seconds(0), "acvpu", ACVPU_CODES["A"], "manual")),
        (1, Vital(seconds(0), "sbp", 95, "manual")),  # 2
        (1, Vital(seconds(0), "temp", 38.6, "manual")),  # 1
    ]
    for t in range(0, 120, 1):
        items += [
            (1, Vital(seconds(t), m, v, "vitals", "w1"))
            for m, v in (("hr", 118), ("rr", 23), ("spo2", 93), ("on_o2", 0))
        ]
    out = feed(engine, items)  # hr 2 + rr 2 + spo2 2 + sbp 2 + temp 1 = 9: high
    for t in range(120, 130):
        out += engine.tick(now=seconds(t))
    news2 = [c for c in out if c.rule_id == "news2"]
    assert news2[0].action == "raise" and news2[0].severity == "critical"
    assert news2[0].suggestion == "referral" and news2[0].ts <= seconds(60)
    # Paged as soon as what was present proved "high"; complete, the score is 9.
    assert news2[-1].values["total"] == 9 and "missing" not in news2[-1].values


def test_fever_in_three_residents_of_a_unit_is_one_cluster() -> None:
    engine = engine_with(1, 2, 3, 4)
    engine.set_resident(profile(resident_id=4, unit_id="other"))
    out: list[AlertCandidate] = []
    for i, rid in enumerate((1, 2, 4, 3)):
        out += feed(engine, [(rid, Vital(seconds(3600 * i), "temp", 38.4, "manual"))])
    clusters = [c for c in out if c.rule_id == "outbreak.fever_cluster"]
    assert [c.action for c in clusters] == ["raise"]
    assert clusters[0].subject == "unit:s/u" and clusters[0].audience == "infection_control"


def test_symptoms_from_rounds_make_a_gastrointestinal_cluster_with_its_line_list() -> None:
    engine = engine_with(1, 2, 3, 4)
    engine.set_resident(profile(resident_id=4, unit_id="other"))
    out: list[AlertCandidate] = []
    for i, rid in enumerate((1, 4, 2, 3)):
        at = seconds(3600 * i)
        out += engine.symptoms(rid, at, frozenset({"diarrhoea", "rash"}), now=at)
    assert engine.symptoms(99, seconds(0), frozenset({"vomiting"}), now=seconds(0)) == []
    # Three cases over two units make the site's cluster (rules/outbreak_site.py) first.
    site = [(c.rule_id, c.action) for c in out if c.subject == "site:s"]
    assert site == [("outbreak.site_gastrointestinal_cluster", a) for a in ("raise", "update")]
    [cluster] = [c for c in out if c.subject.startswith("unit:")]
    assert (cluster.rule_id, cluster.action) == ("outbreak.gastrointestinal_cluster", "raise")
    found = engine.cases_of(cluster)
    assert found is not None
    syndrome, cases = found
    assert syndrome == "gastrointestinal"
    assert {p: c.onset for p, c in cases.items()} == {
        ("resident", 1): seconds(0),
        ("resident", 2): seconds(7200),
        ("resident", 3): seconds(10800),
    }
    cleared = engine.tick_units(now=seconds(3600 * 75))
    assert [(c.rule_id, c.action) for c in cleared] == [
        ("outbreak.gastrointestinal_cluster", "clear"),
        ("outbreak.site_gastrointestinal_cluster", "clear"),
    ]


def test_a_fever_onset_is_a_sign_of_influenza_like_illness() -> None:
    engine = engine_with(1, 2, overrides=None)
    engine.config = RulesConfig.model_validate(
        {
            "syndromes": {
                "respiratory": {
                    "case_definition": [["fever", "cough"]],
                    "min_cases": 2,
                    "window_s": 86400,
                }
            }
        }
    )
    for rid in (1, 2):
        engine.set_resident(profile(resident_id=rid, unit_id="u"))
    out = engine.symptoms(1, seconds(0), frozenset({"cough"}), now=seconds(0))
    out += engine.symptoms(2, seconds(0), frozenset({"cough"}), now=seconds(0))
    for rid in (1, 2):
        out += feed(engine, [(rid, Vital(seconds(600), "temp", 38.6, "manual"))])
    [cluster] = [c for c in out if c.rule_id == "outbreak.respiratory_cluster"]
    found = engine.cases_of(cluster)
    assert found is not None
    assert {c.temperature for c in found[1].values()} == {38.6}


def test_sos_pages() -> None:
    engine = engine_with(1)
    assert raised(feed(engine, [(1, DeviceEvent(seconds(0), "w1", "sos"))])) == ["sos"]


def test_resident_overrides_apply_and_bad_ones_say_which_key() -> None:
    engine = engine_with(
        1, overrides={"vitals.spo2.low.threshold": 80, "vitals.spo2.low.tiers": []}
    )
    out = feed(engine, spo2_stream(1, ((t, 86.0) for t in range(60))))
    assert "vital.spo2.low" not in raised(out)
    with pytest.raises(OverrideError, match=r"vitals\.spo2"):
        engine.set_resident(profile(resident_id=2), {"vitals": {"spo2": {"lowest": 1}}})


def test_unknown_resident_is_ignored() -> None:
    assert engine_with(1).observe(99, DeviceEvent(T0, "w", "sos"), now=T0) == []


def test_snapshot_and_resume_gives_the_same_alerts_as_running_on() -> None:
    """Snapshotted mid-stream and restored (as the detector does, through the state codec), the
    engine neither re-raises what was open nor forgets what was pending."""
    stream = spo2_stream(1, ((t, 97.0 if t < 10 else 85.0) for t in range(60)))
    straight = engine_with(1)
    expected = feed(straight, stream)
    resumed = engine_with(1)
    before = feed(resumed, stream[:30])  # mid-persistence and after the raise
    resumed = through_json(resumed)
    assert before + feed(resumed, stream[30:]) == expected


@pytest.mark.parametrize(
    ("ax", "active"),
    [([0.0] * 50, False), ([0.0, 0.8] * 25, True), ([0.0], False)],
    ids=["still", "moving", "one-sample"],
)
def test_motion_activity(ax: list[float], active: bool) -> None:
    window = Motion(T0, "w1", 50.0, tuple(ax), tuple([-1.0] * len(ax)), tuple([0.0] * len(ax)))
    assert motion_is_active(window) is active
