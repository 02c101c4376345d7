"""Which site each device was provisioned for: looked up once per device, then cached.

A device's site never changes, so a hit is final. A miss is remembered only briefly: it
bounds the queries a flood from an unknown account can cause, and a real device cannot
publish before its provisioning has committed (it has no password until then).
"""

from __future__ import annotations

from collections.abc import Callable


class DeviceDirectory:
    def __init__(
        self,
        lookup: Callable[[str], str | None],
        clock: Callable[[], float],
        *,
        miss_ttl_s: float = 5.0,
    ) -> None:
        self._lookup = lookup
        self._clock = clock
        self._miss_ttl_s = miss_ttl_s
        self._sites: dict[str, str] = {}
        self._misses: dict[str, float] = {}

    def site_of(self, device_id: str) -> str | None:
        site = self._sites.get(device_id)
        if site is not None:
            return site
        now = self._clock()
        missed_at = self._misses.get(device_id)
        if missed_at is not None and now - missed_at < self._miss_ttl_s:
            return None
        site = self._lookup(device_id)
        if site is None:
            if len(self._misses) > 10_000:  # bounded: forget old misses rather than grow
                self._misses.clear()
            self._misses[device_id] = now
        else:
            self._misses.pop(device_id, None)
            self._sites[device_id] = site
        return site

    def known(self, device_id: str) -> bool:
        """Whether the device was found provisioned (no lookup: after `site_of`)."""
        return device_id in self._sites
