"""The rules are pure: importing any rules module (the vocabulary included) loads no service,
no ingest, no simulator and no I/O library. Checked in a fresh interpreter."""

from __future__ import annotations

from tests.ingest.test_ingest_imports import loaded_by


def test_rules_import_nothing_with_io() -> None:
    forbidden = {"services", "ingest", "device_sim", "psycopg", "paho", "fastapi", "apprise"}
    assert loaded_by("rules", forbidden) == []
