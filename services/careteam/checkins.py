"""Staff health check-ins: who is due one today (a shift at the site beginning that day), and
who of them has not checked in yet, late once their shift has begun. Pure: the roster, the
site's local date and time, and the ids that checked in are passed in.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import date, datetime, time

from services.careteam.roster import Roster

__all__ = ["FEVER_C", "Due", "due_today", "signs_of", "work_unit"]

# A check-in at or above this counts as the sign "fever" (the ILI case definition's 38 °C).
FEVER_C = 38.0


@dataclass(frozen=True, slots=True)
class Due:
    """A member of staff due a check-in today: their earliest shift starting today, its units
    (empty: every unit), and whether it has begun (the check-in is late)."""

    staff_id: str
    name: str
    start: time
    units: tuple[str, ...]
    late: bool


def due_today(roster: Roster, site: str, local_now: datetime, checked_in: Set[str]) -> list[Due]:
    """Staff with a shift at `site` beginning on `local_now`'s date (the site's wall clock)
    and no check-in that day, earliest shift first."""
    day = local_now.date()
    first: dict[str, tuple[time, tuple[str, ...]]] = {}
    for shift in roster.shifts:
        if shift.site_id != site or shift.staff_id in checked_in:
            continue
        if shift.weekdays is not None and day.weekday() not in shift.weekdays:
            continue
        known = first.get(shift.staff_id)
        if known is None or shift.start < known[0]:
            first[shift.staff_id] = (shift.start, tuple(sorted(shift.units)))
    clock = local_now.time().replace(tzinfo=None)
    out = [
        Due(sid, roster.staff[sid].name, start, units, late=clock >= start)
        for sid, (start, units) in first.items()
    ]
    return sorted(out, key=lambda d: (d.start, d.staff_id))


def work_unit(roster: Roster, staff_id: str, site: str, day: date) -> str | None:
    """The one unit a member of staff works in at `site` on `day` per the roster, or None if
    their shifts that day name none (site-wide) or more than one."""
    units: set[str] = set()
    for shift in roster.shifts:
        if shift.staff_id != staff_id or shift.site_id != site:
            continue
        if shift.weekdays is not None and day.weekday() not in shift.weekdays:
            continue
        if not shift.units:
            return None
        units |= shift.units
    return units.pop() if len(units) == 1 else None


def signs_of(temperature: float, symptoms: Set[str]) -> list[str]:
    """The signs a check-in reports to the outbreak rules: its symptoms, and fever."""
    return sorted(set(symptoms) | ({"fever"} if temperature >= FEVER_C else set()))
