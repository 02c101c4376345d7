"""Hours of the day in a resident's own time zone (windows may cross midnight)."""

from __future__ import annotations

from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict


class DailyWindow(BaseModel):
    """From `start` to `end` local time each day; `start > end` crosses midnight
    (22:00–06:00 is the night). `start == end` is the whole day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    def contains(self, ts: datetime, tz: str) -> bool:
        local = ts.astimezone(zone(tz)).time()
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


NIGHT = DailyWindow(start=time(22, 0), end=time(6, 0))
DAY = DailyWindow(start=time(8, 0), end=time(20, 0))
