"""NEWS2 from a device's stream: its resting median (rules/news2/continuous.py), through the
engine (which keeps the stream and the motion) and on its own."""

from __future__ import annotations

import json
import typing
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from rules.engine import Engine, ResidentRules, RulesConfig
from rules.news2 import (
    ContinuousConfig,
    DeviceHistory,
    News2Config,
    note_motion,
    note_reading,
    resting_view,
    resting_view_until,
)
from rules.state_codec import decode, encode
from rules.types import ACVPU_CODES, AlertCandidate, Motion, Vital
from tests.rules.conftest import local, profile

T0 = local(10)
RID = 7
WEARABLE = "w7"
# A resident at rest: NEWS2 0 from the wearable's parameters.
REST: dict[str, float] = {"hr": 76, "rr": 18, "spo2": 97, "sbp": 135, "temp": 36.7, "on_o2": 0}


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def engine(**overrides: object) -> Engine:
    e = Engine(RulesConfig())
    e.set_resident(profile(resident_id=RID), overrides or None)
    return e


def report(e: Engine, s: float, **changed: float) -> list[AlertCandidate]:
    """One wearable report (every parameter it measures) at `s`, then the engine's ticks up
    to the next report a minute later."""
    out: list[AlertCandidate] = []
    for metric, value in {**REST, **changed}.items():
        out += e.observe(RID, Vital(at(s), metric, value, "vitals", WEARABLE), now=at(s))
    for tick in range(5, 60, 5):
        out += e.tick(now=at(s + tick))
    return out


def moving(e: Engine, s: float, seconds: int = 12) -> None:
    """The wearable's accelerometer shows the resident walking from `s` for `seconds`."""
    for k in range(0, seconds, 2):
        samples = tuple(1.0 + (0.4 if i % 2 else -0.4) for i in range(100))
        window = Motion(at(s + k), WEARABLE, 50.0, samples, samples, samples)
        e.observe(RID, window, now=at(s + k + 2))


def news2(found: list[AlertCandidate]) -> list[AlertCandidate]:
    return [c for c in found if c.rule_id == "news2"]


def rested(e: Engine, minutes: int = 10) -> None:
    for m in range(minutes):
        assert news2(report(e, m * 60.0)) == []


# --- through the engine ----------------------------------------------------------------------


def test_one_artefact_reading_does_not_page() -> None:
    # Seen in the alarm-burden week: a walk to breakfast reads SpO2 88 and RR 22 for one
    # report (NEWS2 5 from the wearable alone), the next is back to normal. It held for the
    # report's minute, past the 30 s hold for "medium", and paged an urgent review.
    e = engine()
    rested(e)
    found = report(e, 600, spo2=88, rr=22)
    for m in range(11, 20):
        found += report(e, m * 60.0)
    assert news2(found) == []


@pytest.mark.parametrize("recovery_s", [None, 0])
def test_exertion_after_motion_does_not_page(recovery_s: float | None) -> None:
    # After a walk, HR and RR stay up for minutes: four reports of RR 22, SpO2 93, HR 95
    # (NEWS2 5) are a median, but the motion stream says they were taken during recovery.
    # Without the recovery (configured 0) the median alone pages them.
    e = engine() if recovery_s is None else engine(**{"news2.continuous.motion_recovery_s": 0})
    rested(e)
    moving(e, 595)
    found: list[AlertCandidate] = []
    for m in range(10, 14):
        found += report(e, m * 60.0, rr=22, spo2=93, hr=95)
    for m in range(14, 25):
        found += report(e, m * 60.0)
    assert bool(news2(found)) is (recovery_s == 0)


def test_lasting_deterioration_pages_within_three_reports() -> None:
    e = engine()
    rested(e)
    found: list[AlertCandidate] = []
    for m in range(10, 16):
        found += report(e, m * 60.0, rr=25, spo2=91, hr=111)  # 3 + 3 + 2: NEWS2 >= 8
    raised = news2(found)
    assert raised and raised[0].action == "raise" and raised[0].severity == "critical"
    # The third report moves the five-minute median: paged by the engine's next NEWS2 tick.
    assert raised[0].ts <= at(12 * 60 + RulesConfig().news2_every_s)


def test_deterioration_while_moving_for_long_still_pages() -> None:
    # No resting reading left in date (ten minutes of activity): every reading counts.
    e = engine()
    rested(e)
    found: list[AlertCandidate] = []
    for m in range(10, 30):
        moving(e, m * 60.0 - 5)
        found += report(e, m * 60.0, rr=25, spo2=91, hr=111)
    raised = news2(found)
    assert raised and raised[0].severity == "critical"


def test_manual_values_count_as_they_are() -> None:
    # A round's values are taken at rest by a person: a single manual SpO2 of 88 still
    # raises (NEWS2 "low-medium" after its minute), whatever the wearable's median says.
    e = engine()
    rested(e, 3)
    e.observe(RID, Vital(at(185), "spo2", 88, "manual"), now=at(185))
    found: list[AlertCandidate] = []
    for tick in range(190, 260, 5):
        found += e.tick(now=at(tick))
    raised = news2(found)
    assert raised and raised[0].severity == "medium"


def test_high_from_a_manual_round_is_at_once() -> None:
    e = engine()
    rested(e, 3)
    t = at(185)
    for metric, value in {"rr": 26, "spo2": 90, "acvpu": ACVPU_CODES["C"]}.items():
        found = e.observe(RID, Vital(t, metric, value, "manual"), now=t)
    assert [c.severity for c in news2(found)] == ["critical"]


def test_off_by_configuration() -> None:
    # window 0 and no recovery: the freshest reading, as before; the artefact pages again.
    e = engine(**{"news2.continuous.window_s": 0, "news2.continuous.motion_recovery_s": 0})
    rested(e)
    assert news2(report(e, 600, spo2=88, rr=22))


def test_stream_state_survives_a_snapshot() -> None:
    e = engine()
    rested(e, 3)
    moving(e, 170)
    rules = e.residents[RID]
    hint = typing.get_type_hints(ResidentRules)["news2_streams"]
    doc = json.loads(json.dumps(encode(rules.news2_streams, hint)))
    assert decode(doc, hint) == rules.news2_streams
    assert rules.news2_streams.moving and rules.news2_streams.readings


# --- the pure parts --------------------------------------------------------------------------


def test_median_dated_by_the_newest_reading() -> None:
    config = News2Config()
    history = DeviceHistory()
    for s, value in ((0, 97), (60, 96), (120, 88), (180, 97), (240, 95)):
        history = note_reading(history, Vital(at(s), "spo2", value, "vitals", "w"), config=config)
    latest = {"spo2": history.readings["spo2"][-1]}
    view = resting_view(latest, history, now=at(250), config=config)
    assert view["spo2"].value == 96 and view["spo2"].ts == at(240)


def test_backfill_keeps_time_order_and_readings_are_bounded() -> None:
    config = News2Config(continuous=ContinuousConfig(max_readings=3))
    history = DeviceHistory()
    for s in (300, 0, 240, 60, 120):
        history = note_reading(history, Vital(at(s), "hr", 70 + s / 60, "bed", "b"), config=config)
    assert [r.ts for r in history.readings["hr"]] == [at(120), at(240), at(300)]


def test_view_says_until_when_it_holds() -> None:
    config = News2Config()
    history = DeviceHistory()
    for s in (0, 60, 120):
        history = note_reading(history, Vital(at(s), "hr", 70, "vitals", "w"), config=config)
    latest = {"hr": history.readings["hr"][-1]}
    _, until = resting_view_until(latest, history, now=at(130), config=config)
    assert until == at(0) + timedelta(seconds=config.max_age_s.hr)  # the oldest goes stale


def test_manual_and_unstreamed_readings_are_not_kept() -> None:
    config = News2Config()
    history = note_reading(DeviceHistory(), Vital(at(0), "spo2", 90, "manual"), config=config)
    history = note_reading(history, Vital(at(0), "on_o2", 1, "vitals", "w"), config=config)
    assert history == DeviceHistory()


def test_motion_bouts_closer_than_the_recovery_merge() -> None:
    config = News2Config()
    history = note_motion(DeviceHistory(), at(0), at(10), config=config)
    history = note_motion(history, at(200), at(210), config=config)
    history = note_motion(history, at(2000), at(2010), config=config)
    assert history.moving == ((at(2000), at(2010)),)  # the old bout no longer matters
    history = note_motion(history, at(2100), at(2110), config=config)
    assert history.moving == ((at(2000), at(2110)),)


def test_configuration_refuses_flags_and_stray_motion_parameters() -> None:
    with pytest.raises(ValidationError, match="flags"):
        ContinuousConfig(parameters=("hr", "on_o2"))
    with pytest.raises(ValidationError, match="among"):
        ContinuousConfig(parameters=("hr",), motion_parameters=("hr", "rr"))
