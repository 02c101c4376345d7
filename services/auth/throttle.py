"""Login throttling per client address: at most `limit` attempts in a sliding `window_s`.
Pure (time is a parameter) and in memory: per API process, which is what a brute-force
attempt against one process meets; the per-account lock-out in the database holds across
processes."""

from __future__ import annotations

from collections import deque

__all__ = ["Throttle"]


class Throttle:
    def __init__(self, *, limit: int = 10, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        """Record an attempt by `key` at `now` (seconds) unless it is over the limit."""
        times = self._seen.get(key)
        if times is None:
            if len(self._seen) >= self.max_keys:
                self._forget_idle(now)
            times = self._seen[key] = deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def retry_after(self, key: str, now: float) -> float:
        times = self._seen.get(key)
        if not times:
            return 0.0
        return max(0.0, self.window_s - (now - times[0]))

    def _forget_idle(self, now: float) -> None:
        # Bounded memory under a spray of addresses: drop keys with nothing in the window.
        for key in [k for k, t in self._seen.items() if not t or now - t[-1] >= self.window_s]:
            del self._seen[key]
