"""bench/falls.py: the labels and CSV readers, the scoring helpers, leave-one-subject-out, and
`score DIR --out FILE` on a small directory generated here (never the shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.falls import (
    DataError,
    Outcome,
    Recording,
    leave_one_subject_out,
    main,
    rates,
    read_labels,
    read_recording,
    run,
)
from device_sim.motion import generate
from rules.fall_config import FallConfig

HEADER = "file,dataset,subject,age_group,placement,is_fall\n"


def write_csv(path: Path, samples: np.ndarray, hz: float = 50.0) -> None:
    t = np.arange(len(samples)) * 1000.0 / hz
    rows = "".join(
        f"{ti:.0f},{x:.3f},{y:.3f},{z:.3f}\n" for ti, (x, y, z) in zip(t, samples, strict=True)
    )
    path.write_text("t_ms,ax_g,ay_g,az_g\n" + rows)


def synthetic(kind: str, placement: str = "waist", seed: int = 0) -> np.ndarray:
    rec = generate(kind, placement=placement, hz=50.0, rng=np.random.default_rng(seed))  # type: ignore[arg-type]
    return rec.samples


FALL_AT_S = generate(
    "fall_backward_walking", placement="waist", hz=50.0, rng=np.random.default_rng(0)
).event_s
assert FALL_AT_S is not None


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    write_csv(tmp_path / "a_fall.csv", synthetic("fall_backward_walking"))
    write_csv(tmp_path / "b_walk.csv", synthetic("walk"))
    write_csv(tmp_path / "c_bed.csv", synthetic("fall_backward_walking"))
    (tmp_path / "labels.csv").write_text(
        HEADER
        + "a_fall.csv,X,S1,young,waist,1\n"
        + "b_walk.csv,X,S1,older,wrist,0\n"
        + "c_bed.csv,X,S2,young,bed,1\n"
    )
    return tmp_path


def test_labels_are_read_with_dataset_qualified_subjects(labelled: Path) -> None:
    a, b, c = read_labels(labelled)
    assert a == Recording("a_fall.csv", "waist", "X/S1", "young", "fall", "X")
    assert (b.placement, b.label, b.age_group) == ("wrist", "adl", "older")
    assert c.placement == "bed"


def test_only_file_and_placement_are_required(tmp_path: Path) -> None:
    write_csv(tmp_path / "x.csv", synthetic("walk"))
    (tmp_path / "labels.csv").write_text("file,placement\nx.csv,wrist\n")
    assert read_labels(tmp_path) == [Recording("x.csv", "wrist")]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("file,subject\nx.csv,S1\n", "missing column.*placement"),
        ("file,placement\nx.csv,ankle\n", r"labels.csv:2: unknown placement 'ankle'"),
        ("file,placement\ny.csv,wrist\n", "y.csv does not exist"),
        ("file,placement\nx.csv,wrist\nx.csv,wrist\n", "listed twice"),
        ("file,placement\n../x.csv,wrist\n", "must be a CSV name"),
        ("file,placement,is_fall\nx.csv,wrist,yes\n", "is_fall must be 0 or 1"),
    ],
)
def test_bad_labels_say_which_line(tmp_path: Path, labels: str, message: str) -> None:
    write_csv(tmp_path / "x.csv", synthetic("walk"))
    (tmp_path / "labels.csv").write_text(labels)
    with pytest.raises(DataError, match=message):
        read_labels(tmp_path)


def test_no_labels_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no labels\.csv"):
        read_labels(tmp_path)


def test_recordings_are_read_with_their_rate(tmp_path: Path) -> None:
    samples = synthetic("walk")
    write_csv(tmp_path / "x.csv", samples, hz=25.0)
    got, hz = read_recording(tmp_path / "x.csv")
    assert hz == pytest.approx(25.0)
    assert np.allclose(got, samples, atol=6e-4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,ax,ay,az\n0,0,0,1\n20,0,0,1\n", "header must be"),
        ("t_ms,ax_g,ay_g,az_g\n0,0,0,1\n", "at least two rows"),
        ("t_ms,ax_g,ay_g,az_g\n0,0,0,1\n20,0,x,1\n", "x.csv"),
        ("t_ms,ax_g,ay_g,az_g\n20,0,0,1\n0,0,0,1\n0,0,0,1\n", "t_ms must increase"),
    ],
)
def test_bad_recordings_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "x.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        read_recording(tmp_path / "x.csv")


def test_run_reports_the_first_impact_and_latency() -> None:
    rec = generate(
        "fall_backward_walking", placement="waist", hz=50.0, rng=np.random.default_rng(0)
    )
    assert rec.event_s is not None
    o = run(rec.samples, 50.0, FallConfig())
    assert o.detections == 1 and o.first_s is not None
    assert abs(o.first_s - rec.event_s) <= 1.5
    assert o.latency_s is not None and 0 < o.latency_s <= 5 + 2  # rest found + one window
    assert run(rec.samples, 50.0, None) == Outcome(0, None, None, rec.duration_s)


def outcome(detections: int, latency: float | None = None, seconds: float = 1800.0) -> Outcome:
    return Outcome(detections, 1.0 if detections else None, latency, seconds)


def rec(subject: str, label: str) -> Recording:
    return Recording(f"{subject}-{label}.csv", "wrist", subject, "young", label)  # type: ignore[arg-type]


def test_rates_count_recordings_and_false_detections_per_hour() -> None:
    pairs = [
        (rec("a", "fall"), outcome(1, 3.0)),
        (rec("b", "fall"), outcome(0)),
        (rec("c", "adl"), outcome(2)),  # one recording wrong, two false detections
        (rec("d", "adl"), outcome(0)),
        (rec("e", "adl"), outcome(0)),
        (rec("f", "adl"), outcome(0)),
    ]
    r = rates(pairs)
    assert (r["sensitivity"], r["specificity"]) == (0.5, 0.75)
    assert r["adl_hours"] == 2.0 and r["false_per_hour"] == 1.0
    assert r["latency_p95_s"] == 3.0
    assert rates([])["sensitivity"] is None and rates([])["false_per_hour"] is None


def test_leave_one_subject_out_never_chooses_on_the_held_out_subject() -> None:
    # Candidate "odd" is right for subject z only and wrong for x and y; "plain" the reverse.
    # Chosen on the others, z gets "plain" (and is scored wrong), x and y get "plain".
    recs = [rec("x", "fall"), rec("y", "fall"), rec("z", "fall")]
    candidates = {
        "plain": [outcome(1), outcome(1), outcome(0)],
        "odd": [outcome(0), outcome(0), outcome(1)],
    }
    held, chosen = leave_one_subject_out(recs, candidates)
    assert [o.detections for o in held] == [1, 1, 0]
    assert chosen == {"plain": 3}
    # With two recordings z outweighs x or y in their folds ("odd" for them), yet in its own
    # fold only x and y count: z still gets "plain".
    many = [*recs, rec("z", "fall")]
    both = {k: [*v, v[2]] for k, v in candidates.items()}
    held, chosen = leave_one_subject_out(many, both)
    assert [o.detections for o in held] == [0, 0, 0, 0]
    assert chosen == {"odd": 2, "plain": 1}


def test_score_writes_one_entry_per_file(labelled: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "scores.json"
    out.parent.mkdir()
    assert main(["score", str(labelled), "--out", str(out)]) == 0
    entries = json.loads(out.read_text())
    assert [e["file"] for e in entries] == ["a_fall.csv", "b_walk.csv", "c_bed.csv"]
    fall, walk, bed = entries
    assert fall["detections"] == 1 and abs(fall["first_s"] - FALL_AT_S) <= 1.5
    assert walk == {"file": "b_walk.csv", "detections": 0, "first_s": None}
    assert bed == {"file": "c_bed.csv", "detections": 0, "first_s": None}  # no claim for a bed


def test_score_keeps_the_good_files_and_names_the_bad_ones(
    labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (labelled / "b_walk.csv").write_text("t_ms,ax_g,ay_g,az_g\n0,0,0,1\n")  # one row only
    write_csv(labelled / "d_unlabelled.csv", synthetic("walk"))
    out = tmp_path / "scores.json"
    assert main(["score", str(labelled), "--out", str(out)]) == 1
    assert [e["file"] for e in json.loads(out.read_text())] == ["a_fall.csv", "c_bed.csv"]
    err = capsys.readouterr().err
    assert "b_walk.csv: needs at least two rows" in err
    assert "d_unlabelled.csv: no row in labels.csv" in err


def test_score_fails_clearly_on_bad_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "labels.csv").write_text("file\nx.csv\n")
    assert main(["score", str(tmp_path), "--out", str(tmp_path / "o.json")]) == 1
    assert "missing column(s) placement" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_evaluation_without_data_writes_no_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "falls.json"
    assert main(["--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 1
    assert "data not found" in capsys.readouterr().err
    assert not out.exists()


def test_no_choice_buys_sensitivity_with_more_false_alarms() -> None:
    # Per subject: two falls, two ADLs. "loose" finds both falls and alarms on one ADL
    # (sensitivity 1, specificity 0.5); "tight" finds one fall and never alarms (0.5, 1).
    # Equal sums, and "loose" is listed first, but it is less specific than the reference.
    recs = [rec(s, lab) for s in ("x", "y", "z") for lab in ("fall", "fall", "adl", "adl")]
    candidates = {
        "reference": [outcome(0)] * 12,
        "loose": [outcome(1), outcome(1), outcome(1), outcome(0)] * 3,
        "tight": [outcome(1), outcome(0), outcome(0), outcome(0)] * 3,
    }
    held, chosen = leave_one_subject_out(recs, candidates)
    assert chosen == {"tight": 3}
    assert [o.detections for o in held] == [1, 0, 0, 0] * 3
