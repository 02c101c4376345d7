"""The `carewatch` command (console script `services.cli:app`)."""

from services.cli.main import app

__all__ = ["app"]
