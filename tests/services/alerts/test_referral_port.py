"""The alert service reaches referrals only through the port it is handed: no module of
services.alerts imports services.referrals (which builds on the alert service), so the two
never form an import cycle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# In a fresh interpreter: import the alert service and every other module of its package, then
# name whatever of services.referrals came along.
PROBE = """
import importlib, pkgutil, sys
import services.alerts
import services.alerts.service
for info in pkgutil.walk_packages(services.alerts.__path__, "services.alerts."):
    importlib.import_module(info.name)
print("\\n".join(sorted(m for m in sys.modules if m.split(".")[:2] == ["services", "referrals"])))
"""


def test_no_alerts_module_imports_referrals() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [], f"services.alerts pulls in: {done.stdout.split()}"
