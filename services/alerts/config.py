"""The alert core's settings, validated at load: grouping window, self-clearing rules, site time
zones, and the escalation policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, model_validator

from services.alerts.errors import AlertConfigError
from services.alerts.escalation import EscalationConfig, PolicyModel

__all__ = ["AlertsConfig", "load_config"]


class AlertsConfig(PolicyModel):
    # Candidates about one subject within this many seconds (data time) of an incident's first
    # alert join it: a fall, the heart-rate spike and the bed exit it causes page once.
    grouping_window_s: float = Field(default=120.0, ge=0)
    # Rule id prefixes whose `clear` resolves the alert by itself ("self_cleared"): device
    # conditions (offline, battery, wear-off) are over when the device says so. Clinical alerts
    # stay until staff resolve them; a clear only marks `condition_cleared`.
    self_clearing_rules: tuple[str, ...] = ("device.",)
    # Zone for unit-level subjects (residents carry their own in the roster).
    default_timezone: str = "Asia/Shanghai"
    site_timezones: dict[str, str] = Field(default_factory=dict)
    escalation: EscalationConfig = EscalationConfig()

    @model_validator(mode="after")
    def _zones(self) -> Self:
        for zone in (self.default_timezone, *self.site_timezones.values()):
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r}") from None
        if any(not prefix for prefix in self.self_clearing_rules):
            raise ValueError("an empty self-clearing prefix would match every rule")
        return self

    def timezone_of(self, site: str) -> str:
        return self.site_timezones.get(site, self.default_timezone)

    def self_clearing(self, rule_id: str) -> bool:
        return rule_id.startswith(self.self_clearing_rules)


def load_config(data: Mapping[str, Any]) -> AlertsConfig:
    """Validate the `alerts` settings; AlertConfigError names every bad key as a dotted path."""
    try:
        return AlertsConfig.model_validate(data)
    except ValidationError as exc:
        raise AlertConfigError(
            [
                (".".join(str(p) for p in err["loc"]) or "<alerts>", err["msg"])
                for err in exc.errors()
            ]
        ) from exc
