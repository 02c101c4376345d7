"""scripts/check_sizes: lists modules over 500 lines and functions over 80, exit 1 when any."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_sizes"


def run(*roots: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, roots)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def function(name: str, lines: int, indent: str = "") -> str:
    """A function of exactly `lines` lines, `def` included."""
    body = "".join(f"{indent}    x = {i}\n" for i in range(lines - 2))
    return f"{indent}def {name}() -> None:\n{body}{indent}    return None\n"


def test_modules_and_functions_at_the_limit_pass(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(function("fits", 80) + "\n" * (500 - 80))
    assert len((tmp_path / "ok.py").read_text().splitlines()) == 500
    result = run(tmp_path)
    assert result.returncode == 0 and result.stdout == ""


def test_what_is_over_the_limit_is_listed_and_fails(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "big.py").write_text("x = 1\n" * 501)
    methods = "class Store:\n" + function("save", 81, indent="    ")
    (tmp_path / "pkg" / "long.py").write_text(methods + function("short", 10))
    result = run(tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any("big.py: module has 501 lines" in line for line in lines)
    assert any("long.py:2: Store.save has 81 lines" in line for line in lines)
    assert len(lines) == 2  # `short` and the class itself are not listed
