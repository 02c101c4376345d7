"""The care team document: staff with their apprise channels, shifts, residents' linked
contacts, partner hospitals and the alert policy. One YAML/JSON document, validated as a whole
with every problem named by its dotted path, then stored in `care_team` (versioned).

Pure: parsing and conversion to the core's Roster; the database reads and writes are in
`services/alerts/team_store.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any, Self

import apprise
from pydantic import Field, ValidationError, field_validator, model_validator

from services.alerts.config import AlertsConfig
from services.alerts.errors import AlertConfigError
from services.alerts.escalation import PolicyModel
from services.alerts.roster import ResidentContacts, Role, Roster, Shift, Staff

__all__ = [
    "CareTeam",
    "ContactsEntry",
    "HospitalEntry",
    "Placement",
    "ShiftEntry",
    "StaffEntry",
    "load_care_team",
    "roster_of",
]

ID = r"^[A-Za-z0-9_.@-]{1,64}$"


def _check_channels(channels: tuple[str, ...]) -> tuple[str, ...]:
    for i, url in enumerate(channels):
        # Apprise knows every scheme it supports; an unknown or malformed URL fails here, at
        # load, not at 3 a.m. when the page is due. The URL itself is never echoed: it may hold
        # a password or token.
        if not apprise.Apprise().add(url):
            scheme = url.partition("://")[0] if "://" in url else "?"
            raise ValueError(f"channel {i} ({scheme}://…) is not an apprise URL apprise accepts")
    return channels


class StaffEntry(PolicyModel):
    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    channels: tuple[str, ...] = Field(min_length=1)  # primary first, then fallbacks

    _channels = field_validator("channels")(_check_channels)


class ShiftEntry(PolicyModel):
    staff: str
    site: str
    start: time
    end: time
    units: tuple[str, ...] = ()
    weekdays: tuple[int, ...] | None = None  # 0 = Monday; None: every day


class ContactsEntry(PolicyModel):
    resident: int = Field(gt=0)
    family: tuple[str, ...] = ()
    family_doctors: tuple[str, ...] = ()


class HospitalEntry(PolicyModel):
    """A partner hospital for green-channel referrals, with its own apprise contact."""

    id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    sites: tuple[str, ...] = Field(min_length=1)
    channels: tuple[str, ...] = Field(min_length=1)

    _channels = field_validator("channels")(_check_channels)


class CareTeam(PolicyModel):
    staff: tuple[StaffEntry, ...] = ()
    shifts: tuple[ShiftEntry, ...] = ()
    contacts: tuple[ContactsEntry, ...] = ()
    hospitals: tuple[HospitalEntry, ...] = ()
    alerts: AlertsConfig = AlertsConfig()

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems: list[str] = []
        ids = [s.id for s in self.staff]
        if len(set(ids)) != len(ids):
            problems.append("staff: an id appears twice")
        known = set(ids)
        for i, shift in enumerate(self.shifts):
            if shift.staff not in known:
                problems.append(f"shifts.{i}.staff: unknown staff {shift.staff!r}")
            if shift.weekdays is not None and not set(shift.weekdays) <= set(range(7)):
                problems.append(f"shifts.{i}.weekdays: 0 (Monday) .. 6 (Sunday)")
        hospital_ids = [h.id for h in self.hospitals]
        if len(set(hospital_ids)) != len(hospital_ids):
            problems.append("hospitals: an id appears twice")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def staff_by_id(self) -> dict[str, Staff]:
        return {s.id: Staff(s.id, s.name, s.role, s.channels) for s in self.staff}

    def hospitals_for(self, site: str) -> list[HospitalEntry]:
        return [h for h in self.hospitals if site in h.sites]


def load_care_team(data: Mapping[str, Any]) -> CareTeam:
    """Validate a care team document; AlertConfigError names every problem by dotted path."""
    try:
        return CareTeam.model_validate(data)
    except ValidationError as exc:
        raise AlertConfigError(
            [
                (
                    ".".join(str(p) for p in err["loc"]) or "<care team>",
                    err["msg"].removeprefix("Value error, "),
                )
                for err in exc.errors()
            ]
        ) from exc


# Where a resident lives, from the residents table: site, unit, time zone.
Placement = tuple[str, str, str]


def roster_of(team: CareTeam, residents: Mapping[int, Placement]) -> Roster:
    """The core's roster: the team's staff and shifts, and every known resident placed, with
    the contacts the document links to them. Contacts naming an unknown resident are an error."""
    linked = {c.resident: c for c in team.contacts}
    unknown = sorted(set(linked) - set(residents))
    if unknown:
        raise AlertConfigError([("contacts", f"unknown residents {unknown}")])
    contacts = []
    for rid, (site, unit, tz) in residents.items():
        entry = linked.get(rid)
        contacts.append(
            ResidentContacts(
                rid,
                site,
                unit,
                tz,
                family=entry.family if entry else (),
                family_doctors=entry.family_doctors if entry else (),
            )
        )
    shifts = [
        Shift(
            s.staff,
            s.site,
            s.start,
            s.end,
            units=frozenset(s.units),
            weekdays=frozenset(s.weekdays) if s.weekdays is not None else None,
        )
        for s in team.shifts
    ]
    return Roster.of(team.staff_by_id().values(), shifts, contacts)
