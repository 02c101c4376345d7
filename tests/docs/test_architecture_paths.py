"""docs/architecture.md names the module or function that takes each step: every such path
must exist, so the page cannot drift from the code again (it once named paths a restructure
had moved or removed). The files the README and the other docs name between backticks too."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PACKAGES = ("rules", "ingest", "services", "device_sim", "upgrade")

# `a.b.c`: a dotted path alone between backticks (not `f()`, not `[tool.x]`).
DOTTED = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)`")
# `services/api/sse.py`, `services/api/web/`: a file or folder of ours.
FILE = re.compile(r"`((?:" + "|".join(PACKAGES) + r")/[\w./-]*)`")
# Dotted words on the page that are not Python paths.
FILE_SUFFIXES = {"toml", "md", "js", "py", "sql", "json", "yaml", "txt"}
NOT_PATHS = {"vital.spo2.low", "carewatch.commands"}


def _import_prefix(parts: list[str]) -> tuple[object, list[str]]:
    """The longest importable module of `parts` and the names after it."""
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        try:
            return importlib.import_module(name), parts[i:]
        except ModuleNotFoundError as e:
            # Only "this path is no module" moves on; a module failing to import is a failure.
            if e.name is None or not (name == e.name or name.startswith(e.name + ".")):
                raise
    raise LookupError(f"no module {parts[0]!r}")


def _has(obj: object, name: str) -> bool:
    """An attribute, or a field declared without a default (a dataclass's)."""
    if hasattr(obj, name):
        return True
    return isinstance(obj, type) and any(
        name in getattr(c, "__annotations__", {}) for c in obj.__mro__
    )


def resolves(path: str) -> bool:
    try:
        obj, rest = _import_prefix(path.split("."))
    except LookupError:
        return False
    for name in rest:
        if not _has(obj, name):
            return False
        obj = getattr(obj, name, None)
    return True


def absolute_paths(text: str) -> list[str]:
    """Every dotted path on the page as a full path. A short one (`Delivery.claim`,
    `lifecycle._open`) continues the last full path before it that has its first name."""
    seen: list[str] = []
    out: list[str] = []
    for token in DOTTED.findall(text):
        parts = token.split(".")
        if token in NOT_PATHS or parts[-1] in FILE_SUFFIXES:
            continue
        if parts[0] in PACKAGES:
            seen.append(token)
            out.append(token)
            continue
        for earlier in reversed(seen):
            names = earlier.split(".")
            if parts[0] in names:
                out.append(".".join(names[: names.index(parts[0])] + parts))
                break
        else:
            out.append(token)  # anchored nowhere: reported as not resolving
    return out


def test_every_dotted_path_resolves() -> None:
    paths = absolute_paths(DOC.read_text(encoding="utf-8"))
    assert len(paths) > 50  # the parser still finds the page's paths
    missing = sorted({p for p in paths if not resolves(p)})
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


def test_the_architecture_names_files() -> None:
    assert FILE.findall(DOC.read_text(encoding="utf-8"))  # the parser still finds them


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_file_path_exists(doc: Path) -> None:
    files = FILE.findall(doc.read_text(encoding="utf-8"))
    missing = sorted({f for f in files if not (ROOT / f).exists()})
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_the_checker_tells_present_from_absent() -> None:
    assert resolves("ingest.pipeline.Inbound.received_at")  # a field without a default
    assert resolves("rules.engine.Engine.observe")
    assert not resolves("services.detector.convert.observations")
    assert not resolves("rules.engine.Engine.no_such_method")
    text = "`services.alerts.lifecycle.apply_candidate` then `lifecycle._open`, `a.b`"
    assert absolute_paths(text) == [
        "services.alerts.lifecycle.apply_candidate",
        "services.alerts.lifecycle._open",
        "a.b",
    ]
