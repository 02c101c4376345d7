"""Who works when: staff with their notification channels, shifts (which may cross midnight),
and the contacts linked to one resident (family, contracted family doctor) for family beds.

Pure data and lookups; the I/O layer loads it from the database and passes it in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.careteam.errors import AlertConfigError

__all__ = [
    "ROLES",
    "ResidentContacts",
    "Role",
    "Roster",
    "Shift",
    "Staff",
    "on_duty",
    "resident_contacts",
]

Role = Literal[
    "caregiver",
    "nurse",
    "charge_nurse",
    "physician",
    "family_doctor",
    "family",
    "infection_control",
    "disease_control",
    "technician",  # devices and the network: the technical queue's own staff
    # The community's on-call team: a family bed's last escalation step (on shift at the site).
    "community_on_call",
]
ROLES: frozenset[str] = frozenset(get_args(Role))


@dataclass(frozen=True, slots=True)
class Staff:
    """A person who can be paged. `channels` are apprise URLs, primary first, then fallbacks."""

    id: str
    name: str
    role: Role
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Shift:
    """`staff_id` works at `site_id` on `units` (empty: every unit of the site) from `start` to
    `end` local time, on the days in `weekdays` (0 = Monday; None: every day). The weekday is the
    day the shift begins: a Monday 22:00–07:00 shift covers Tuesday 03:00. `start == end` is a
    24-hour shift (an on-call contact reachable all day)."""

    staff_id: str
    site_id: str
    start: time
    end: time
    units: frozenset[str] = frozenset()
    weekdays: frozenset[int] | None = None

    def covers(self, local: datetime) -> bool:
        """Whether the shift is on at `local` (a wall-clock time in the site's zone)."""
        clock = local.time().replace(tzinfo=None)
        today = local.weekday()
        yesterday = (local - timedelta(days=1)).weekday()
        if self.start < self.end:
            return self._on(today) and self.start <= clock < self.end
        # Crosses midnight (or lasts 24 h): the part after `start` today, or the tail of
        # a shift that began yesterday.
        return (self._on(today) and clock >= self.start) or (
            self._on(yesterday) and clock < self.end
        )

    def _on(self, weekday: int) -> bool:
        return self.weekdays is None or weekday in self.weekdays


@dataclass(frozen=True, slots=True)
class ResidentContacts:
    """Where a resident lives (site, unit, time zone) and the roster entries linked to them:
    family contacts and the contracted family doctor (both mainly for family beds at home)."""

    resident_id: int
    site_id: str
    unit_id: str
    timezone: str = "Asia/Shanghai"
    family: tuple[str, ...] = ()
    family_doctors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Roster:
    """Staff by id, shifts, and residents' places and linked contacts. Validated on creation:
    every reference names known staff of a fitting role, weekdays are 0..6, zones exist."""

    staff: Mapping[str, Staff] = field(default_factory=dict)
    shifts: tuple[Shift, ...] = ()
    residents: Mapping[int, ResidentContacts] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise AlertConfigError(problems)

    @classmethod
    def of(
        cls,
        staff: Iterable[Staff],
        shifts: Iterable[Shift] = (),
        residents: Iterable[ResidentContacts] = (),
    ) -> Roster:
        return cls(
            staff={s.id: s for s in staff},
            shifts=tuple(shifts),
            residents={r.resident_id: r for r in residents},
        )


def _problems(roster: Roster) -> Iterable[tuple[str, str]]:
    for key, person in roster.staff.items():
        where = f"staff.{key}"
        if key != person.id:
            yield where, f"keyed by {key!r} but its id is {person.id!r}"
        if person.role not in ROLES:
            yield f"{where}.role", f"unknown role {person.role!r}"
        if not person.channels:
            yield f"{where}.channels", "at least one apprise URL is needed to reach them"
    for i, shift in enumerate(roster.shifts):
        where = f"shifts.{i}"
        if shift.staff_id not in roster.staff:
            yield f"{where}.staff_id", f"unknown staff {shift.staff_id!r}"
        if shift.weekdays is not None and not shift.weekdays <= set(range(7)):
            yield f"{where}.weekdays", "weekdays are 0 (Monday) .. 6 (Sunday)"
        if shift.weekdays is not None and not shift.weekdays:
            yield f"{where}.weekdays", "an empty weekday set never covers anything; use None"
    for rid, contacts in roster.residents.items():
        where = f"residents.{rid}"
        if rid != contacts.resident_id:
            yield where, f"keyed by {rid} but its resident_id is {contacts.resident_id}"
        try:
            ZoneInfo(contacts.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield f"{where}.timezone", f"unknown time zone {contacts.timezone!r}"
        for attr, role in (("family", "family"), ("family_doctors", "family_doctor")):
            for sid in getattr(contacts, attr):
                linked = roster.staff.get(sid)
                if linked is None:
                    yield f"{where}.{attr}", f"unknown staff {sid!r}"
                elif linked.role != role:
                    yield f"{where}.{attr}", f"{sid!r} has role {linked.role!r}, not {role!r}"


def on_duty(
    roster: Roster, site: str, unit: str | None, role: Role, at: datetime, tz: str | ZoneInfo
) -> list[Staff]:
    """Staff of `role` whose shift covers `at` (aware) at `site` on `unit`, in roster order,
    each once. `unit=None` asks for site-wide shifts only (e.g. a unit-less outbreak contact)."""
    if at.tzinfo is None:
        raise ValueError("on_duty needs an aware datetime")
    local = at.astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))
    found: dict[str, Staff] = {}
    for shift in roster.shifts:
        person = roster.staff[shift.staff_id]
        if person.role != role or shift.site_id != site or person.id in found:
            continue
        if shift.units and (unit is None or unit not in shift.units):
            continue
        if shift.covers(local):
            found[person.id] = person
    order = {sid: i for i, sid in enumerate(roster.staff)}
    return sorted(found.values(), key=lambda s: order[s.id])


def resident_contacts(
    roster: Roster, resident_id: int, kind: Literal["family", "family_doctor"]
) -> list[Staff]:
    """The family contacts or family doctor(s) linked to a resident (none if unknown)."""
    contacts = roster.residents.get(resident_id)
    if contacts is None:
        return []
    ids = contacts.family if kind == "family" else contacts.family_doctors
    return [roster.staff[sid] for sid in ids]
