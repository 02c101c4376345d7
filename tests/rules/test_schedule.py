from __future__ import annotations

from datetime import time

import pytest

from rules.schedule import DailyWindow
from tests.rules.conftest import local

NIGHT = DailyWindow(start=time(22, 0), end=time(6, 0))
DAY = DailyWindow(start=time(8, 0), end=time(20, 0))


@pytest.mark.parametrize(
    ("window", "hour", "minute", "inside"),
    [
        (NIGHT, 21, 59, False),
        (NIGHT, 22, 0, True),
        (NIGHT, 0, 30, True),
        (NIGHT, 5, 59, True),
        (NIGHT, 6, 0, False),
        (DAY, 7, 59, False),
        (DAY, 8, 0, True),
        (DAY, 19, 59, True),
        (DAY, 20, 0, False),
        (DailyWindow(start=time(0, 0), end=time(0, 0)), 13, 0, True),
    ],
    ids=[
        "night-before",
        "night-start",
        "night-middle",
        "night-last-minute",
        "night-end",
        "day-before",
        "day-start",
        "day-last-minute",
        "day-end",
        "all-day",
    ],
)
def test_window_edges_in_local_time(
    window: DailyWindow, hour: int, minute: int, inside: bool
) -> None:
    assert window.contains(local(hour, minute), "Asia/Shanghai") is inside


def test_the_residents_zone_decides_not_utc() -> None:
    # 23:00 in Shanghai is 15:00 UTC: night for the resident, whatever the server's zone.
    assert NIGHT.contains(local(23), "Asia/Shanghai")
    assert not NIGHT.contains(local(23), "Europe/London")  # 15:00 there
