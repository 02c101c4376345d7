"""Referral types routed to the kinds of partner that take them, preferred first."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.referrals.routing import KINDS, PARTNER_KINDS, ROUTES, Kind, PartnerKind, partners_for


@dataclass(frozen=True)
class P:
    id: str
    kind: PartnerKind


SITE_PARTNERS = [
    P("nursing", "nursing_home"),
    P("city", "general_hospital"),
    P("rehab", "rehabilitation_hospital"),
    P("county", "general_hospital"),
    P("hospice", "hospice"),
]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("emergency", ["city", "county"]),
        ("appointment", ["city", "county"]),
        ("rehabilitation", ["rehab", "nursing"]),
        ("hospice", ["hospice"]),
        ("return", ["city", "county", "rehab", "nursing", "hospice"]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_kind_goes_to_its_partners_preferred_first(kind: Kind, expected: list[str]) -> None:
    assert [p.id for p in partners_for(kind, SITE_PARTNERS)] == expected


def test_every_kind_has_a_route_to_known_partner_kinds() -> None:
    assert set(ROUTES) == set(KINDS)
    assert all(route and set(route) <= set(PARTNER_KINDS) for route in ROUTES.values())


def test_no_partner_of_the_kind_no_destination() -> None:
    assert partners_for("hospice", [P("city", "general_hospital")]) == []
