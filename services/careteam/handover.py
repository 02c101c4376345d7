"""Which stretch of time a shift handover covers, from the care team's shifts in the site's time
zone: the shift that just ended at the site (and unit), or the one ending within the hour, as
a handover is prepared before the end. Pure: `at` is a parameter.

Nursing shifts (caregivers, nurses, charge nurses) mark the handovers when there are any;
otherwise any shift does. A 24-hour shift (start == end) is an on-call contact, not a handover
boundary. With no shift to go by, the last `DEFAULT_SPAN` hours."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from services.careteam.team import CareTeam, ShiftEntry

__all__ = ["DEFAULT_SPAN", "LEAD", "Window", "handover_window"]

NURSING: Final = frozenset({"caregiver", "nurse", "charge_nurse"})
# A shift ending this soon is the one handed over (the report is written before the end).
LEAD: Final = timedelta(hours=1)
DEFAULT_SPAN: Final = timedelta(hours=12)
# How far back a shift is looked for: a weekly shift's last occurrence is within a week.
LOOK_BACK_DAYS: Final = 8


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    basis: Literal["shift", "default", "chosen"]  # chosen: by the reader, not from here


def _spans(shift: ShiftEntry, zone: ZoneInfo, today: date) -> Iterator[tuple[datetime, datetime]]:
    """The shift's occurrences beginning on `today` and the days before."""
    for back in range(LOOK_BACK_DAYS):
        day = today - timedelta(days=back)  # the weekday is the day the shift begins
        if shift.weekdays is not None and day.weekday() not in shift.weekdays:
            continue
        ends_on = day + timedelta(days=1) if shift.end <= shift.start else day
        yield _at(day, shift.start, zone), _at(ends_on, shift.end, zone)


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock.replace(tzinfo=None), tzinfo=zone)


def _shifts(team: CareTeam, site: str | None, unit: str | None) -> list[ShiftEntry]:
    roles = {s.id: s.role for s in team.staff}
    found = [
        s
        for s in team.shifts
        if (site is None or s.site == site)
        and s.start != s.end
        and (unit is None or not s.units or unit in s.units)
    ]
    nursing = [s for s in found if roles.get(s.staff) in NURSING]
    return nursing or found


def handover_window(
    team: CareTeam,
    site: str | None,
    unit: str | None,
    at: datetime,
    zone: ZoneInfo,
    *,
    lead: timedelta = LEAD,
) -> Window:
    """The shift to hand over at `at` (aware): one in progress that ends within `lead`, the
    soonest ending first; else the one that ended last (the longer one of two ending
    together). `site=None` looks at every site's shifts, `unit=None` at every unit's."""
    if at.tzinfo is None:
        raise ValueError("handover_window needs an aware datetime")
    today = at.astimezone(zone).date()
    spans = {span for shift in _shifts(team, site, unit) for span in _spans(shift, zone, today)}
    ending = [(end, start) for start, end in spans if start <= at < end <= at + lead]
    if ending:
        end, start = min(ending)
        return Window(start, end, "shift")
    ended = [(end, -start.timestamp(), start) for start, end in spans if end <= at]
    if ended:
        end, _, start = max(ended)
        return Window(start, end, "shift")
    return Window(at - DEFAULT_SPAN, at, "default")
