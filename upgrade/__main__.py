"""`python -m upgrade`: `carewatch upgrade-state`, as `carewatch up` runs it."""

from upgrade.cli import upgrade_app

upgrade_app()
