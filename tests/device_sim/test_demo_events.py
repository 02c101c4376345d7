"""Demo events (`carewatch demo event`): each script, played by the live ward, sends what the
rules need to page, checked by running the ward's own messages through ingest's decoder and
the detector's rule engine with default limits (no broker, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from device_sim.demo_events import KINDS, SCRIPTS, DemoEventError
from device_sim.devices import synthetic_ward
from device_sim.labels import Labels
from device_sim.messages import DeviceClock
from device_sim.physiology import DEFAULT_TZ
from device_sim.simulation import build
from device_sim.ward import WardOptions, WardSource
from ingest.codec import decode
from rules.engine import Engine
from rules.types import ResidentProfile

WARM_UP_S = 120.0
NIGHT = datetime(2025, 3, 4, 2, 0, tzinfo=DEFAULT_TZ)  # bed exits page at night only
DAY = datetime(2025, 3, 4, 10, 0, tzinfo=DEFAULT_TZ)


def play(kind: str, *, start: datetime, minutes: float) -> tuple[list[str], list[str]]:
    """Rule ids raised before the event (after warm-up) and within `minutes` after it."""
    devices = synthetic_ward(1)
    source = WardSource(
        devices,
        seed=3,
        start=start,
        duration_s=WARM_UP_S + minutes * 60,
        rate_hz=1.0,
        clocks={d.device_id: DeviceClock() for d in devices},
        labels=Labels(),
        options=WardOptions(routine=False),
    )
    engine = Engine()
    engine.set_resident(ResidentProfile(1, "demo", "A", fall_risk=True))
    before: list[str] = []
    after: list[str] = []
    injected = False
    next_tick = start
    for delivery in source.emitted():
        now = start + timedelta(seconds=delivery.offset_s)
        if not injected and delivery.offset_s >= WARM_UP_S:
            source.inject(kind, "r1")
            injected = True
        found = []
        while next_tick <= now:
            found += engine.tick(now=next_tick)
            next_tick += timedelta(seconds=1)
        message = decode(delivery.message.topic, delivery.message.payload, received_at=now)
        for obs in message.observations:
            found += engine.observe(1, obs, now=now)
        raised = [c.rule_id for c in found if c.action == "raise"]
        (after if injected else before).extend(raised)
    return before, after


@pytest.mark.parametrize(
    ("kind", "rule", "start", "minutes"),
    [
        ("fall", "fall", DAY, 1),
        ("sos", "sos", DAY, 1),
        ("hypoxia", "spo2", DAY, 1),
        ("fever", "fever", DAY, 1),
        ("news2-deterioration", "news2", DAY, 1),
        ("device-offline", "device.offline", DAY, 6),
        ("bed-exit", "bed.exit_night", NIGHT, 16),
    ],
)
def test_each_event_pages_through_the_default_rules(
    kind: str, rule: str, start: datetime, minutes: float
) -> None:
    before, after = play(kind, start=start, minutes=minutes)
    assert not [r for r in before if rule in r], before  # quiet until asked
    assert [r for r in after if rule in r], f"{kind}: raised only {after}"


def test_every_kind_has_a_script_and_a_note_for_the_asker() -> None:
    assert set(KINDS) >= {
        "fall",
        "sos",
        "hypoxia",
        "fever",
        "bed-exit",
        "news2-deterioration",
        "device-offline",
    }
    assert all(SCRIPTS[k].expect.startswith(k) for k in KINDS)


def test_unknown_kind_or_resident_is_refused_and_a_scenario_takes_none() -> None:
    devices = synthetic_ward(2)
    sim = build(devices, seed=1, start=datetime(2025, 3, 4, tzinfo=UTC), duration_s=60)
    with pytest.raises(DemoEventError, match="unknown event 'flood'"):
        sim.inject("flood", "r1")
    with pytest.raises(DemoEventError, match="no resident 'r9'"):
        sim.inject("sos", "r9")
