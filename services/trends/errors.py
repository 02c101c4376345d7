"""Errors the trends package raises on purpose; the API maps them to HTTP 422.

TrendsError (a CareWatchError)
 └── InvalidQuery    a trend request that cannot be answered as asked: `field` names the bad
                     parameter (start, end, bucket, metric) and the message says what would do
"""

from __future__ import annotations

from services.errors import CareWatchError


class TrendsError(CareWatchError):
    """Base of the trends package's own errors."""


class InvalidQuery(TrendsError, ValueError):
    """The request names a range, bucket or metric the trends cannot serve."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
