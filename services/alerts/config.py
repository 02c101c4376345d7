"""The alert core's settings, validated at load: grouping window, self-clearing rules, site time
zones, the escalation policy, the route of technical (device) alerts and late data."""

from __future__ import annotations

from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator

from rules.types import AlertCandidate
from services.alerts.escalation import DeviceRoute, EscalationConfig, PolicyModel

__all__ = ["AlertsConfig", "LateData"]


class LateData(PolicyModel):
    """Data that reaches the detector long after it was measured (a device's backlog after a
    Wi-Fi drop, a replay): its conditions are recorded, but one that ended before its data
    arrived is history, not a page."""

    # A candidate is late when the data behind it reached the detector more than this long
    # after its own time (its `ts`).
    after_s: float = Field(default=300.0, gt=0)
    # A late condition is held this long (service time) before it pages: its end, if it
    # came in the same backlog, arrives meanwhile and files it as history instead.
    hold_s: float = Field(default=60.0, ge=0)

    def is_late(self, candidate: AlertCandidate) -> bool:
        arrived = candidate.arrived_at
        return arrived is not None and (arrived - candidate.ts).total_seconds() > self.after_s


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
    # Device alerts: a technical queue and the caregiver on shift, never a physician.
    devices: DeviceRoute = DeviceRoute()
    late: LateData = LateData()

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
