"""Synthetic accelerometer recordings: deterministic, physical at rest, labelled."""

from __future__ import annotations

import numpy as np
import pytest

from device_sim.motion import (
    ADL_KINDS,
    FALL_KINDS,
    RANGE_G,
    Kind,
    Placement,
    Recording,
    generate,
    label_of,
)

ALL = [(kind, placement) for placement in ("waist", "wrist") for kind in (*FALL_KINDS, *ADL_KINDS)]


def make(kind: Kind, placement: Placement = "waist", hz: float = 50, seed: int = 0) -> Recording:
    return generate(kind, placement=placement, hz=hz, rng=np.random.default_rng(seed))


@pytest.mark.parametrize(("kind", "placement"), ALL, ids=[f"{p}-{k}" for k, p in ALL])
def test_every_kind_is_labelled_shaped_and_mostly_at_1_g(kind: Kind, placement: Placement) -> None:
    rec = make(kind, placement)
    assert rec.label == label_of(kind) == ("fall" if kind in FALL_KINDS else "adl")
    assert rec.samples.shape == (len(rec.samples), 3) and rec.samples.dtype == np.float64
    assert 10 <= rec.duration_s <= 30
    assert np.isfinite(rec.samples).all() and np.abs(rec.samples).max() <= RANGE_G + 0.05
    # Whatever happens, the body is mostly supported: about 1 g, give or take calibration
    # error and movement (walking's bounce, the swing of an arm).
    assert 0.9 <= float(np.median(rec.magnitude())) <= 1.25
    if rec.label == "fall":
        assert rec.event_s is not None and 2 < rec.event_s < rec.duration_s - 4
        impact = round(rec.event_s * rec.hz)
        assert rec.magnitude()[impact - 5 : impact + 6].max() >= 2.0


@pytest.mark.parametrize("hz", [25, 50, 100, 200])
def test_sampling_rate_sets_the_number_of_samples_not_the_story(hz: float) -> None:
    rec = make("fall_forward", hz=hz, seed=5)
    reference = make("fall_forward", hz=50, seed=5)
    assert rec.hz == hz
    assert len(rec.samples) == pytest.approx(reference.duration_s * hz, abs=2)
    assert rec.event_s == pytest.approx(reference.event_s, abs=0.05)


def test_same_seed_same_recording_other_seed_another() -> None:
    a, b, c = (
        make("faint_collapse", "wrist", seed=1),
        make("faint_collapse", "wrist", seed=1),
        make("faint_collapse", "wrist", seed=2),
    )
    assert np.array_equal(a.samples, b.samples) and a.event_s == b.event_s
    assert a.samples.shape != c.samples.shape or not np.array_equal(a.samples, c.samples)


@pytest.mark.parametrize(("placement", "axis"), [("waist", 1), ("wrist", 0)])
def test_gravity_lies_along_the_placements_axis_when_upright(
    placement: Placement, axis: int
) -> None:
    # Belt clip: y points down (as in SisFall); watch: x runs down the hanging forearm.
    for seed in range(5):
        rest = make("stand", placement, seed=seed).samples[:25].mean(axis=0)
        assert rest[axis] < -0.85
        assert np.linalg.norm(rest) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("placement", ["waist", "wrist"])
def test_standing_still_is_1_g(placement: Placement) -> None:
    for seed in range(3):
        mag = make("stand", placement, seed=seed).magnitude()
        assert np.median(mag) == pytest.approx(1.0, abs=0.04) and mag.std() < 0.06


def test_lying_still_after_a_fall_is_1_g_and_quiet() -> None:
    for placement in ("waist", "wrist"):
        rec = make("fall_sideways", placement, seed=3)
        assert rec.still_after
        tail = rec.magnitude()[-2 * round(rec.hz) :]
        assert np.median(tail) == pytest.approx(1.0, abs=0.06) and tail.std() < 0.03


def test_a_dropped_device_falls_freely_then_lies_dead_still() -> None:
    rec = make("drop_device", "wrist", seed=1)
    assert rec.label == "adl" and rec.event_s is not None
    mag = rec.magnitude()
    start = round(rec.event_s * rec.hz)
    assert mag[start - round(0.2 * rec.hz) : start - 2].max() < 0.1  # in the air
    assert mag[-round(3 * rec.hz) :].std() < 0.01  # nothing but sensor noise


def test_getting_up_is_labelled_after_the_fall() -> None:
    rec = make("fall_then_gets_up")
    assert rec.event_s is not None and rec.gets_up_s is not None
    assert rec.event_s + 4 < rec.gets_up_s < rec.duration_s - 5


def test_windows_cover_the_recording_in_order() -> None:
    rec = make("walk", hz=25)
    parts = list(rec.windows(2.0))
    assert [offset for offset, _ in parts] == [i * 2.0 for i in range(len(parts))]
    assert np.array_equal(np.concatenate([w for _, w in parts]), rec.samples)


@pytest.mark.parametrize(
    ("kind", "placement", "hz", "message"),
    [
        ("cartwheel", "waist", 50, "unknown motion kind"),
        ("walk", "ankle", 50, "unknown placement"),
        ("walk", "waist", 2, "hz must be within"),
    ],
)
def test_bad_arguments_are_refused(kind: str, placement: str, hz: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(kind, placement=placement, hz=hz, rng=np.random.default_rng(0))  # type: ignore[arg-type]
