"""`carewatch device add --placement`: an unknown placement is refused before anything is
touched (no database, no broker account)."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli import app


def test_an_unknown_placement_is_refused_with_the_known_ones() -> None:
    result = CliRunner().invoke(
        app, ["device", "add", "w-1", "--site", "t1", "--placement", "ankle"]
    )
    assert result.exit_code == 1
    assert "unknown placement 'ankle'" in result.output
    assert "wrist, waist, chest, pendant, bed" in result.output
