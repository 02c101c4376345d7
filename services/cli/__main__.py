"""`python -m services.cli`: how `carewatch up` and the tests start a service."""

from services.cli.main import app

app()
