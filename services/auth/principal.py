"""Who is calling, what their role lets them do, and which residents they may see. Pure.

Scope: a user bound to a site sees only that site's residents, and only the units listed
(none listed: every unit of the site). No site means every site only for an administrator;
anyone else bound to no site sees no resident at all. Integrators never see resident health
data: they have no permission that reads it. Staff of a partner hospital (`hospital_id`) act
on the hospital's side of referrals and see the referrals sent to their hospital, nothing
else: every other permission is withheld from them, whatever their role.

Two logins are not bound to a place at all: a family doctor reaches the residents under a
contract in force with them (their caseload, across sites), and a family member one resident
(`resident_id`), read-only and only while that resident's family consent is given. Both are
database facts, checked where a resident is looked up (services/api/deps.resident_in_scope):
here they see no resident by place.

A regulator is bound to a region (`region_id`), not a site: it reads the indicators of the
region's sites (checked by that route) and sees no resident."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

__all__ = [
    "HOSPITAL_PERMISSIONS",
    "PERMISSIONS",
    "ROLES",
    "Permission",
    "Principal",
    "Role",
]

Role = Literal[
    "admin",
    "physician",
    "nurse",
    "caregiver",
    "integrator",
    "family_doctor",
    "family",
    "regulator",
]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

Permission = Literal[
    "devices:manage",
    "residents:read",
    "residents:write",
    # A physician's decision: comfort care (goals of care).
    "goals_of_care:write",
    "observations:write",
    "alerts:read",
    "alerts:act",
    "referrals:read",
    "referrals:write",
    "care_team:read",
    "care_team:write",
    "audit:read",
    "users:manage",
    "outbreaks:report",
    # One resident's summary: latest vitals, alerts and their outcomes (the family view).
    "residents:summary",
    "contracts:read",
    "contracts:write",
    "visits:read",
    "visits:write",
    # A site's indicators (counts and rates, no resident named): whole-site readers only.
    "indicators:read",
]

_CLINICAL: Final[frozenset[Permission]] = frozenset(
    {
        "residents:read",
        "residents:summary",
        "visits:read",
        "visits:write",
        "observations:write",
        "alerts:read",
        "alerts:act",
        "referrals:read",
        "referrals:write",
    }
)
PERMISSIONS: Final[Mapping[Role, frozenset[Permission]]] = {
    # Administrators run the deployment: accounts, devices, the care team, the audit log; they
    # may look at and acknowledge alerts, but do not chart observations.
    # Nor do they decide goals of care: a physician does.
    "admin": frozenset(get_args(Permission)) - {"observations:write", "goals_of_care:write"},
    # Closing an outbreak's case file (reported to disease control, or ruled out) is the
    # infection-control lead's: a nurse or physician, not every caregiver.
    "physician": _CLINICAL
    | {
        "residents:write",
        "goals_of_care:write",
        "care_team:read",
        "outbreaks:report",
        "contracts:read",
        "contracts:write",
        "indicators:read",
    },
    "nurse": _CLINICAL
    | {
        "residents:write",
        "care_team:read",
        "outbreaks:report",
        "contracts:read",
        "contracts:write",
        "indicators:read",
    },
    "caregiver": _CLINICAL,
    # Devices and the hospital's own system (HIS) answering referrals; never residents' data
    # otherwise (a referral is sent to the hospital on purpose).
    "integrator": frozenset({"devices:manage", "referrals:read", "referrals:write"}),
    # Their caseload's record, trends and rounds, and their own contracts; no ward, no board.
    "family_doctor": frozenset(
        {
            "residents:read",
            "residents:summary",
            "observations:write",
            "visits:read",
            "visits:write",
            "contracts:read",
        }
    ),
    # One resident's summary, nothing else.
    "family": frozenset({"residents:summary"}),
    # The district's regulator: the indicators of the sites of its region (`region_id`), counts
    # only; bound to no site, so every resident, alert and referral read is refused or empty.
    "regulator": frozenset({"indicators:read"}),
}

# What a partner hospital's account may do, whatever its role: its side of referrals.
HOSPITAL_PERMISSIONS: Final[frozenset[Permission]] = frozenset(
    {"referrals:read", "referrals:write"}
)


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: Role
    site_id: str | None = None
    unit_ids: frozenset[str] = frozenset()
    staff_id: str | None = None
    hospital_id: str | None = None
    resident_id: int | None = None  # a family login's one resident
    region_id: str | None = None  # a regulator's region

    def can(self, permission: Permission) -> bool:
        if self.hospital_id is not None and permission not in HOSPITAL_PERMISSIONS:
            return False
        return permission in PERMISSIONS[self.role]

    @property
    def every_site(self) -> bool:
        """Not limited by place: only an administrator bound to no site."""
        return self.role == "admin" and self.site_id is None and self.hospital_id is None

    @property
    def sees_no_resident(self) -> bool:
        # Integrators and hospital staff reach residents only through referrals; anyone else
        # bound to no site is unplaced, which is nowhere, never everywhere.
        return (
            self.role in ("integrator", "family_doctor", "family")
            or self.hospital_id is not None
            or (self.site_id is None and not self.every_site)
        )

    def covers(self, site_id: str, unit_id: str | None) -> bool:
        """Whether a resident (or unit) at `site_id`/`unit_id` is in this caller's scope."""
        if self.sees_no_resident:
            return False
        if self.every_site:
            return True
        if site_id != self.site_id:
            return False
        return not self.unit_ids or unit_id in self.unit_ids

    @property
    def actor(self) -> str:
        """The name actions are recorded under: the care team id where there is one."""
        return self.staff_id or self.username

    def scope_sql(self, site_column: str, unit_column: str) -> tuple[str, list[object]]:
        """A WHERE fragment (and its parameters) limiting rows to this caller's scope."""
        if self.sees_no_resident:
            return "false", []
        if self.every_site:
            return "true", []
        if not self.unit_ids:
            return f"{site_column} = %s", [self.site_id]
        return f"({site_column} = %s AND {unit_column} = ANY(%s))", [
            self.site_id,
            sorted(self.unit_ids),
        ]

    def place_sql(
        self, site_column: str, unit_column: str, site: str | None, unit: str | None
    ) -> tuple[str, list[object]]:
        """`scope_sql` narrowed to the site and unit a list asked for (None: any)."""
        scope, args = self.scope_sql(site_column, unit_column)
        where = [scope]
        for column, value in ((site_column, site), (unit_column, unit)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        return " AND ".join(where), args
