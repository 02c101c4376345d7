"""Shared helpers for rule tests: a resident and a fake clock in local (Shanghai) time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from rules.types import ResidentProfile

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0, day: int = 10) -> datetime:
    """A wall-clock time in the resident's zone (the rules compare hours in local time)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


def later(t: datetime, **delta: float) -> datetime:
    return t + timedelta(**delta)


def profile(**kwargs: object) -> ResidentProfile:
    values: dict[str, object] = {"resident_id": 7, "site_id": "s", "unit_id": "u"}
    values.update(kwargs)
    return ResidentProfile(**values)  # type: ignore[arg-type]
