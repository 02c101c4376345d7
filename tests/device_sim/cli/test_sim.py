"""`carewatch sim` as a user runs it (the installed console script, which finds the command
through its entry point), with no broker: a dry run (--out) is the same file every time,
labels land beside it, the summary counts what was written, and bad options fail clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[3] / "device_sim" / "library"
SIM = [str(Path(sys.executable).with_name("carewatch")), "sim"]
START = "2025-03-04T07:00:00+08:00"


def sim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIM, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_dry_run_is_the_same_every_time_with_labels_beside_it(tmp_path: Path) -> None:
    args = [
        "--residents", "2", "--duration", "1800", "--start", START, "--seed", "4",
        "--wifi-drops", "48", "--clock-drift", "40", "--duplicate-rate", "0.02",
        "--reorder-rate", "0.02", "--malformed-rate", "0.02", "--fever-rate", "1",
    ]  # fmt: skip
    first = sim(*args, "--out", "one.jsonl", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    second = sim(*args, "--out", "two.jsonl", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    one_labels = (tmp_path / "one.labels.jsonl").read_text().splitlines()
    two_labels = (tmp_path / "two.labels.jsonl").read_text().splitlines()
    assert one_labels == two_labels
    header = json.loads(one_labels[0])
    assert (
        header["type"] == "run" and header["seed"] == 4 and header["start"].startswith(START[:19])
    )
    assert {json.loads(x)["type"] for x in one_labels[1:]} >= {"event", "fault"}
    lines = (tmp_path / "one.jsonl").read_text().splitlines()
    assert f"wrote to one.jsonl: {len(lines):,} messages" in first.stdout
    assert "by kind:" in first.stdout and "malformed:" in first.stdout
    assert f"labels: {len(one_labels) - 1:,} written to one.labels.jsonl" in first.stdout
    devices = {json.loads(x)["device"] for x in lines}
    assert devices == {"demo-w000", "demo-w001", "demo-b000", "demo-b001"}


def test_a_scenario_dry_run(tmp_path: Path) -> None:
    result = sim(
        "--scenario", str(LIBRARY / "tune-devices.yaml"), "--out", "s.jsonl", "--start", START,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    labels = [json.loads(x) for x in (tmp_path / "s.labels.jsonl").read_text().splitlines()]
    assert labels[0]["scenario"] == "tune-devices"
    assert len([r for r in labels if r["type"] == "event"]) == 7
    assert [r for r in labels if r["type"] == "truth"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", str(LIBRARY / "tune-night.yaml"), "--rate", "2"], "--rate"),
        (["--scenario", str(LIBRARY / "tune-night.yaml"), "--fever-rate", "1"], "--fever-rate"),
        (["--malformed-kind", "gibberish", "--duration", "10"], "unknown malformed kind"),
        (["--start", "2025-03-04T07:00:00", "--duration", "10"], "needs an offset"),
        (["--duration", "10", "--malformed-rate", "1.5"], "malformed-rate"),
        (["--scenario", "missing.yaml"], "missing.yaml"),
    ],
    ids=["scenario-rate", "scenario-fever", "kind", "naive-start", "rate-range", "no-file"],
)
def test_bad_options_fail_clearly(args: list[str], message: str, tmp_path: Path) -> None:
    result = sim(*args, "--out", "x.jsonl", cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout
    assert not (tmp_path / "x.jsonl").exists()


def test_scenario_labels_go_where_asked_and_never_into_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario played to the broker (the run itself is replaced: what is checked is where
    the command tells it to write the labels)."""
    from typer.testing import CliRunner

    import device_sim.run
    from device_sim.devices import save_devices, synthetic_ward
    from device_sim.run_summary import SimSummary
    from services.cli import app

    asked: list[object] = []

    def fake_run(devices: object, **kwargs: object) -> object:
        asked.append(kwargs["labels_path"])
        return SimSummary(messages_published=0, by_stream={}, elapsed_s=1.0)

    monkeypatch.setattr(device_sim.run, "run_simulation", fake_run)
    monkeypatch.chdir(tmp_path)
    save_devices(tmp_path / "devices.json", synthetic_ward(4))
    scenario = str(LIBRARY / "tune-devices.yaml")
    runner = CliRunner()
    plain = runner.invoke(app, ["sim", "--scenario", scenario, "--devices", "devices.json"])
    assert plain.exit_code == 0, plain.output
    chosen = tmp_path / "out" / "truth.jsonl"
    given = runner.invoke(
        app,
        ["sim", "--scenario", scenario, "--devices", "devices.json", "--labels", str(chosen)],
    )
    assert given.exit_code == 0, given.output
    assert asked == [None, chosen]
    assert f"written to {chosen}" in given.output
