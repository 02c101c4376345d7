"""The tests of the packages mirror them (docs/architecture.md, "Tests"): a test module
tests/PKG/.../test_NAME.py sits in the folder of the package it tests, and NAME starts with
the name of a module or subpackage there (`test_store.py`, `test_store_book.py` for
PKG/.../store.py), or with the package's own name for a test of the package as a whole
(`tests/ingest/test_ingest_imports.py`). So a module renamed or moved cannot leave its tests
behind under a name nothing has. The cross-cutting folders (e2e, faults, web, bench, docs)
are not mirrors and are not checked."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MIRRORED = ("rules", "ingest", "services", "device_sim", "upgrade")


def named_module(test: Path) -> str | None:
    """What `test` (a path under tests/) names, or None when it names nothing that exists."""
    source_dir = ROOT / test.parent.relative_to(ROOT / "tests")
    if not source_dir.is_dir():
        return None
    words = test.stem.removeprefix("test_").split("_")
    for n in range(len(words), 0, -1):
        name = "_".join(words[:n])
        if (source_dir / f"{name}.py").is_file() or (source_dir / name).is_dir():
            return str((source_dir / name).relative_to(ROOT))
        if name == source_dir.name:
            return str(source_dir.relative_to(ROOT))
    return None


def mirrored_tests() -> list[Path]:
    return sorted(p for pkg in MIRRORED for p in (ROOT / "tests" / pkg).rglob("test_*.py"))


def test_every_test_module_names_a_module_that_exists() -> None:
    orphans = [str(t.relative_to(ROOT)) for t in mirrored_tests() if named_module(t) is None]
    assert not orphans, (
        "these test modules name no module of the package their folder mirrors; move or "
        "rename them (tests/PKG/.../test_MODULE[_topic].py): " + ", ".join(orphans)
    )


def test_the_check_tells_a_mirror_from_an_orphan() -> None:
    tests = ROOT / "tests"
    assert named_module(tests / "services/alerts/test_store_book.py") == "services/alerts/store"
    assert named_module(tests / "rules/test_news2_continuous.py") == "rules/news2"
    assert named_module(tests / "ingest/test_ingest_imports.py") == "ingest"
    assert named_module(tests / "services/alerts/test_storage.py") is None
    assert named_module(tests / "services/nowhere/test_store.py") is None
    assert len(mirrored_tests()) > 100  # it looks where the tests are
