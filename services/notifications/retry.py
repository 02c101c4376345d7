"""When and where to try a failed notification again. Pure.

Each channel gets `attempts_per_channel` tries with exponential backoff, then the person's next
channel (the fallback) is tried; after the last channel it starts over from the primary. A page
is never given up on: a down SMS gateway must not turn into a fall nobody heard of."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts_per_channel: int = 2
    base_s: float = 1.0
    cap_s: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts_per_channel < 1:
            raise ValueError("attempts_per_channel must be at least 1")
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError("need 0 < base_s <= cap_s")

    def after_failure(self, attempts: int, channel: int, channels: int) -> tuple[int, float]:
        """`attempts`: failures so far including this one (all channels). The channel to try
        next and the delay before it. Moving on to a fallback is immediate: the person should
        not wait for a backoff meant for a flaky gateway."""
        if channels < 1:
            raise ValueError("a notification has at least one channel")
        on_this = (attempts - 1) % self.attempts_per_channel + 1
        if on_this < self.attempts_per_channel:
            return channel, self._delay(attempts)
        following = (channel + 1) % channels
        if following == 0:  # every channel failed this round: back off before starting over
            return 0, self._delay(attempts)
        return following, 0.0

    def _delay(self, attempts: int) -> float:
        return float(min(self.cap_s, self.base_s * 2.0 ** max(0, attempts - 1)))
