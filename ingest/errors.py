"""Errors of the ingest package: why a device message was not turned into a reading.

IngestError
├── Rejected       a message failed validation; `reason` is one of REJECT_REASONS and is
│                  what the dead-letter table records, `detail` a short human-readable note.
└── ConfigError    the worker's own settings are invalid (its client id, share group, port);
                   the message says how to fix it.

Reasons (device protocol v1):
    oversized       payload larger than the configured limit (checked before parsing)
    bad_topic       topic is not `carewatch/v1/{site_id}/{device_id}/{stream}` with valid ids
    unknown_stream  topic is well-formed but names no known stream
    malformed_json  not UTF-8, not JSON (NaN/Infinity included), too deep, or not an object
    missing_ts      no `ts` (only a `status` message may omit it)
    invalid_field   a field has the wrong type or format, or a required one is missing
    future_ts       `ts` is further ahead of the time of receipt than allowed
    too_old         `ts` lies further back than the deployment keeps data (retention)
    out_of_range    a value is physiologically or physically impossible (never clipped)
    topic_mismatch  the topic's site is not the device's provisioned site (decided by the caller)
    unknown_device  the device is not provisioned (decided by the caller)
    retained        published with the retain flag outside `status`, or a retained `status`
                    over its size cap (decided by the caller, from the MQTT flag; cleared)
"""

from __future__ import annotations

from typing import Final, Literal, get_args

RejectReason = Literal[
    "oversized",
    "bad_topic",
    "unknown_stream",
    "malformed_json",
    "missing_ts",
    "invalid_field",
    "future_ts",
    "too_old",
    "out_of_range",
    "topic_mismatch",
    "unknown_device",
    "retained",
]
REJECT_REASONS: Final[tuple[RejectReason, ...]] = get_args(RejectReason)

MAX_DETAIL_CHARS: Final = 200


class IngestError(Exception):
    """Base class of everything the ingest package raises on purpose."""


class ConfigError(IngestError):
    """An ingest worker's setting is invalid (the composition root reports it and exits)."""


class Rejected(IngestError):
    """A device message failed validation and goes to the dead-letter table."""

    reason: RejectReason
    detail: str

    def __init__(self, reason: RejectReason, detail: str) -> None:
        if reason not in REJECT_REASONS:
            raise ValueError(f"unknown reject reason {reason!r}")
        # The detail ends up in logs and the dead-letter table: keep it short whatever it quotes.
        if len(detail) > MAX_DETAIL_CHARS:
            detail = detail[: MAX_DETAIL_CHARS - 3] + "..."
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
