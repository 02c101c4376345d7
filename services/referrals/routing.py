"""Referral types and the kinds of partner each goes to (issue 17: two-way referral). Pure.

A care site's partners are typed in the care team document (`hospitals[].kind`); a referral
of a type goes to a partner of a kind its route names, the first kind preferred, and among
partners of one kind the document's order. A return goes the other way: the partner that
discharged the resident opens it, whatever its kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, Literal, Protocol, TypeVar, get_args

from services.careteam.team import PartnerKind

__all__ = [
    "KINDS",
    "OUTWARD",
    "PARTNER_KINDS",
    "ROUTES",
    "URGENT",
    "Kind",
    "PartnerKind",
    "partners_for",
]

Kind = Literal["emergency", "appointment", "rehabilitation", "hospice", "return"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
PARTNER_KINDS: Final[tuple[PartnerKind, ...]] = get_args(PartnerKind)

# Which partners take which referral, preferred first. Appointments are outpatient visits at a
# general hospital; rehabilitation goes to a rehabilitation hospital, else a nursing home with
# a rehabilitation ward; hospice care to a hospice.
ROUTES: Final[Mapping[Kind, tuple[PartnerKind, ...]]] = {
    "emergency": ("general_hospital",),
    "appointment": ("general_hospital",),
    "rehabilitation": ("rehabilitation_hospital", "nursing_home"),
    "hospice": ("hospice",),
    "return": PARTNER_KINDS,
}
# The green channel answers in minutes; the others have their own, longer time limit
# (ReferralConfig.hospital_answer_s / planned_answer_s).
URGENT: Final[frozenset[Kind]] = frozenset({"emergency"})
# Care-side staff open these; the hospital side opens a return.
OUTWARD: Final[tuple[Kind, ...]] = tuple(k for k in KINDS if k != "return")


class Partner(Protocol):
    @property
    def kind(self) -> PartnerKind: ...


P = TypeVar("P", bound=Partner)


def partners_for(kind: Kind, partners: Iterable[P]) -> list[P]:
    """The partners (of one site) a referral of `kind` may go to, the preferred first."""
    found = list(partners)
    return [p for wanted in ROUTES[kind] for p in found if p.kind == wanted]
