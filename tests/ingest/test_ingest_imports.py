"""Ingest stands below the services: importing any ingest module loads nothing of `services`
(nor the simulator). Checked in a fresh interpreter, where nothing else has loaded them."""

from __future__ import annotations

import json
import subprocess
import sys

# Every module of the package, then whatever of the forbidden packages got loaded.
_PROBE = """
import importlib, json, pkgutil, sys
import {package}
for info in pkgutil.walk_packages({package}.__path__, "{package}."):
    importlib.import_module(info.name)
forbidden = {forbidden!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in forbidden)))
"""


def loaded_by(package: str, forbidden: set[str]) -> list[str]:
    """The forbidden modules that importing all of `package` loads, in a fresh interpreter."""
    code = _PROBE.format(package=package, forbidden=sorted(forbidden))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_ingest_never_imports_services_or_the_simulator() -> None:
    assert loaded_by("ingest", {"services", "device_sim"}) == []
