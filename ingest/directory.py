"""Which site each device was provisioned for, cached, re-read when an unknown id shows up."""

from __future__ import annotations

from collections.abc import Callable, Mapping


class DeviceDirectory:
    """`site_of(device_id)`; a miss reloads at most once per `min_reload_s` (a flood of
    messages from an unknown id must not become a flood of queries)."""

    def __init__(
        self,
        load: Callable[[], Mapping[str, str]],
        clock: Callable[[], float],
        *,
        min_reload_s: float = 2.0,
    ) -> None:
        self._load = load
        self._clock = clock
        self._min_reload_s = min_reload_s
        self._sites: Mapping[str, str] = {}
        self._loaded_at: float | None = None

    def site_of(self, device_id: str) -> str | None:
        site = self._sites.get(device_id)
        if site is not None:
            return site
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._min_reload_s:
            self._sites = self._load()
            self._loaded_at = now
        return self._sites.get(device_id)
