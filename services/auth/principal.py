"""Who is calling, what their role lets them do, and which residents they may see. Pure.

Scope: a user bound to a site sees only that site's residents, and only the units listed
(none listed: every unit of the site); a user bound to no site (admins, device integrators)
is not limited by place. Integrators never see resident health data at all: they have no
permission that reads it. Staff of a partner hospital (`hospital_id`) act on the hospital's
side of referrals and see the referrals sent to their hospital."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "Permission",
    "Principal",
    "Role",
]

Role = Literal["admin", "physician", "nurse", "caregiver", "integrator"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

Permission = Literal[
    "devices:manage",
    "residents:read",
    "residents:write",
    "observations:write",
    "alerts:read",
    "alerts:act",
    "referrals:read",
    "referrals:write",
    "care_team:read",
    "care_team:write",
    "audit:read",
    "users:manage",
]

_CLINICAL: Final[frozenset[Permission]] = frozenset(
    {
        "residents:read",
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
    "admin": frozenset(get_args(Permission)) - {"observations:write"},
    "physician": _CLINICAL | {"residents:write", "care_team:read"},
    "nurse": _CLINICAL | {"residents:write", "care_team:read"},
    "caregiver": _CLINICAL,
    # Devices and the hospital's own system (HIS) answering referrals; never residents' data
    # otherwise (a referral is sent to the hospital on purpose).
    "integrator": frozenset({"devices:manage", "referrals:read", "referrals:write"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: Role
    site_id: str | None = None
    unit_ids: frozenset[str] = frozenset()
    staff_id: str | None = None
    hospital_id: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    def covers(self, site_id: str, unit_id: str | None) -> bool:
        """Whether a resident (or unit) at `site_id`/`unit_id` is in this caller's scope."""
        if self.role == "integrator":
            return False
        if self.site_id is None:
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
        if self.role == "integrator":
            return "false", []
        if self.site_id is None:
            return "true", []
        if not self.unit_ids:
            return f"{site_column} = %s", [self.site_id]
        return f"({site_column} = %s AND {unit_column} = ANY(%s))", [
            self.site_id,
            sorted(self.unit_ids),
        ]
