"""The simulator's commands reach `carewatch` only through the `carewatch.commands` entry
points: importing the production CLI, `carewatch up`'s supervisor or the demo never loads
device_sim, and `carewatch sim`, `eval` and `demo` still work through the installed console
script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CAREWATCH = Path(sys.executable).with_name("carewatch")
SHOW_LOADED = (
    "\nimport json, sys\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] == 'device_sim')))"
)


def simulator_modules_after(code: str, *, env: dict[str, str] | None = None) -> list[str]:
    """The device_sim modules a fresh interpreter holds after running `code`."""
    result = subprocess.run(
        [sys.executable, "-c", code + SHOW_LOADED],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout.splitlines()[-1])
    return loaded


def run_command(*argv: str) -> str:
    """`carewatch ARGV` in-process (no exit), then the simulator's modules it loaded."""
    return f"from services.cli import app\napp({list(argv)!r}, standalone_mode=False)"


@pytest.mark.parametrize(
    "module",
    ["services.cli", "services.operations.local.supervisor", "services.operations.local.demo"],
)
def test_importing_production_never_loads_the_simulator(module: str) -> None:
    assert simulator_modules_after(f"import {module}") == []


def test_a_production_command_never_loads_the_simulator() -> None:
    # `up` is found in the group that also lists the simulator's commands.
    assert simulator_modules_after(run_command("up", "--help")) == []


@pytest.mark.parametrize(
    "module", ["services.cli", "services.detector.service", "services.alerts.service"]
)
def test_the_services_never_load_the_state_upgrade(module: str) -> None:
    """The one code that unpickles (upgrade/) is a command of its own, not part of a service."""
    show = "\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith('upgrade')))"
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}{show}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_a_simulator_command_loads_it_when_run() -> None:
    # The check above can see device_sim when it is there.
    assert "device_sim.cli.sim" in simulator_modules_after(run_command("sim", "--help"))


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sim", "--help"], "--residents"),
        (["eval", "--help"], "--split"),
        (["demo", "event", "--help"], "news2-deterioration"),
        (["--help"], "sim"),
        (["upgrade-state", "--help"], "Rewrite state"),
    ],
    ids=["sim", "eval", "demo-event", "listed", "upgrade-state"],
)
def test_the_simulators_commands_work_through_the_console_script(
    argv: list[str], expected: str, tmp_path: Path
) -> None:
    assert CAREWATCH.is_file(), f"{CAREWATCH}: run scripts/setup"
    result = subprocess.run(
        [str(CAREWATCH), *argv],
        cwd=tmp_path,  # the installed entry points, not the source tree's
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_a_command_whose_package_is_missing_fails_clearly(tmp_path: Path) -> None:
    """A distribution declaring a command whose module is not there (as a production install
    without the simulator would): that command fails with a clear error, the rest work."""
    info = tmp_path / "broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[carewatch.commands]\nghost = no_such_package.cli:app\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "200"}

    def carewatch(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CAREWATCH), *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    ghost = carewatch("ghost")
    assert ghost.returncode == 2, ghost.stdout + ghost.stderr
    assert "no_such_package.cli:app" in ghost.stderr and "cannot be imported" in ghost.stderr
    assert carewatch("migrate", "--help").returncode == 0
