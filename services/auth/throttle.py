"""Login throttling: at most `limit` attempts per key in a sliding `window_s` (`Throttle`),
and the login's two keys together (`LoginThrottle`): each account from each address has a
small allowance, each address a higher ceiling, so that a shift's phones behind one NAT do
not lock each other out at handover while one address still cannot spray many accounts.
Pure (time is a parameter) and in memory: per API process, which is what a brute-force
attempt against one process meets; the per-account lock-out in the database holds across
processes."""

from __future__ import annotations

from collections import deque

__all__ = ["LoginThrottle", "Throttle"]


class Throttle:
    def __init__(self, *, limit: int = 10, window_s: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        """Record an attempt by `key` at `now` (seconds) unless it is over the limit."""
        if self.full(key, now):
            return False
        times = self._seen.get(key)
        if times is None:
            if len(self._seen) >= self.max_keys:
                self._forget_idle(now)
            times = self._seen[key] = deque()
        times.append(now)
        return True

    def full(self, key: str, now: float) -> bool:
        """Whether one more attempt by `key` at `now` would be over the limit (not recorded)."""
        times = self._seen.get(key)
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times is not None and len(times) >= self.limit

    def retry_after(self, key: str, now: float) -> float:
        times = self._seen.get(key)
        if not times:
            return 0.0
        return max(0.0, self.window_s - (now - times[0]))

    def _forget_idle(self, now: float) -> None:
        # Bounded memory under a spray of addresses: drop keys with nothing in the window.
        for key in [k for k, t in self._seen.items() if not t or now - t[-1] >= self.window_s]:
            del self._seen[key]


class LoginThrottle:
    """`per_account` attempts per (account, address) pair and `per_address` per address, in
    the same window. An attempt refused by either is not counted by the other."""

    def __init__(self, *, per_account: int, per_address: int, window_s: float = 60.0) -> None:
        self.pairs = Throttle(limit=per_account, window_s=window_s)
        self.addresses = Throttle(limit=per_address, window_s=window_s)

    def allow(self, account: str | None, address: str, now: float) -> bool:
        """Record an attempt at `account` (None: no account named, as in a refresh, which only
        the address ceiling limits) from `address` unless either limit is reached."""
        keys = self._keys(account, address)
        if any(throttle.full(key, now) for throttle, key in keys):
            return False
        for throttle, key in keys:
            throttle.allow(key, now)
        return True

    def retry_after(self, account: str | None, address: str, now: float) -> float:
        keys = self._keys(account, address)
        waits = [t.retry_after(k, now) for t, k in keys if t.full(k, now)]
        return max(waits, default=0.0)

    def _keys(self, account: str | None, address: str) -> list[tuple[Throttle, str]]:
        keys = [(self.addresses, address)]
        if account is not None:
            # Case and spaces do not make another account for the throttle.
            keys.append((self.pairs, f"{account.strip().casefold()}\x00{address}"))
        return keys
