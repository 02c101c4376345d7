"""Referral types through the API (issue 17): each goes to a partner of a kind that takes it
(the site's partners are typed in the care team document), planned ones with their own time
limit; a rule's suggestion goes to a general hospital, not to the site's first partner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import get_args

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.api.routes.referrals import OutwardKind
from services.careteam.store import current_team, store_team
from services.careteam.team import HospitalEntry, ReferralTimes
from services.referrals import store
from services.referrals.model import DEFAULT_CONFIG
from services.referrals.routing import OUTWARD
from tests.e2e.test_referrals_api import NURSE, REFERRALS, ref_ward, resident
from tests.services.referrals.test_store import HOSPITAL_ID, SITE
from tests.support import Conn

pytestmark = pytest.mark.services

__all__ = ["ref_ward", "resident"]  # fixtures used here

REHAB = "ref-rehab"


async def _add_rehab(db_url: str) -> None:
    # First in the document, so "the site's first partner" would be the wrong destination.
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        _, team = await current_team(conn)
        rehab = HospitalEntry(
            id=REHAB,
            name="Rehabilitation Hospital",
            kind="rehabilitation_hospital",
            sites=(SITE,),
            channels=("json://127.0.0.1:9/rehab",),
        )
        others = tuple(h for h in team.hospitals if h.id != REHAB)
        await store_team(conn, team.model_copy(update={"hospitals": (rehab, *others)}), by="t")


@pytest.fixture(scope="module")
def typed_partners(db_url: str, ref_ward: str) -> str:
    asyncio.run(_add_rehab(db_url))
    return ref_ward


def test_the_api_offers_the_kinds_staff_open() -> None:
    assert get_args(OutwardKind) == OUTWARD


def test_a_rehabilitation_referral_goes_to_the_rehabilitation_hospital(
    api: TestClient, resident: int, typed_partners: str
) -> None:
    body = {"resident_id": resident, "reason": "after hip surgery", "kind": "rehabilitation"}
    created = api.post(REFERRALS, json=body, headers=NURSE)
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["kind"] == "rehabilitation"
    assert data["hospital"]["id"] == REHAB
    assert data["hospital"]["kind"] == "rehabilitation_hospital"
    # A planned referral: days to answer, not the green channel's minutes.
    due = datetime.fromisoformat(data["sla_due_at"]) - datetime.fromisoformat(data["created_at"])
    assert due == timedelta(seconds=DEFAULT_CONFIG.planned_answer_s)
    listed = api.get(f"{REFERRALS}/hospitals", headers=NURSE).json()
    assert {h["id"]: h["kind"] for h in listed}[REHAB] == "rehabilitation_hospital"


def test_a_sites_partners_listed_per_kind(api: TestClient, typed_partners: str) -> None:
    def ids(kind: str) -> list[str]:
        answer = api.get(f"{REFERRALS}/hospitals", params={"kind": kind}, headers=NURSE)
        assert answer.status_code == 200, answer.text
        return [h["id"] for h in answer.json() if typed_partners in h["sites"]]

    assert ids("rehabilitation") == [REHAB]
    assert ids("emergency") == [HOSPITAL_ID]
    assert ids("hospice") == []
    refused = api.get(f"{REFERRALS}/hospitals", params={"kind": "return"}, headers=NURSE)
    assert refused.status_code == 422


def test_an_emergency_goes_to_a_general_hospital(
    api: TestClient, resident: int, typed_partners: str
) -> None:
    created = api.post(
        REFERRALS, json={"resident_id": resident, "reason": "NEWS2 8"}, headers=NURSE
    )
    assert created.status_code == 201, created.text
    assert created.json()["hospital"]["id"] == HOSPITAL_ID
    assert created.json()["kind"] == "emergency"


def test_a_kind_without_a_partner_or_a_partner_of_the_wrong_kind_is_refused(
    api: TestClient, resident: int, typed_partners: str
) -> None:
    body = {"resident_id": resident, "reason": "palliative care", "kind": "hospice"}
    refused = api.post(REFERRALS, json=body, headers=NURSE)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "kind"]
    assert "hospice" in refused.json()["detail"][0]["msg"]
    wrong = {"resident_id": resident, "reason": "NEWS2 8", "hospital_id": REHAB}
    refused = api.post(REFERRALS, json=wrong, headers=NURSE)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "hospital_id"]
    assert "general_hospital" in refused.json()["detail"][0]["msg"]
    returns = {"resident_id": resident, "reason": "back", "kind": "return"}
    assert api.post(REFERRALS, json=returns, headers=NURSE).status_code == 422


def test_a_rules_suggestion_goes_to_a_general_hospital_not_the_first_partner(
    db: Conn, db_url: str, resident: int, typed_partners: str
) -> None:
    async def suggest() -> int | None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await store.suggest_from_alert(
                conn,
                alert_id=980_000_231,
                resident_id=resident,
                rule_id="news2",
                title="NEWS2 8: high clinical risk",
                values={"total": 8},
                now=datetime.now(UTC),
            )

    rid = asyncio.run(suggest())
    assert rid is not None
    row = db.execute(
        "SELECT hospital_id, kind, partner_kind FROM referrals WHERE referral_id = %s", [rid]
    ).fetchone()
    assert row == (HOSPITAL_ID, "emergency", "general_hospital")


async def _set_times(db_url: str, times: ReferralTimes) -> None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        _, team = await current_team(conn)
        await store_team(conn, team.model_copy(update={"referrals": times}), by="t")


def test_a_deployment_sets_its_own_planned_answer_time(
    api: TestClient, db_url: str, resident: int, typed_partners: str
) -> None:
    asyncio.run(_set_times(db_url, ReferralTimes(planned_answer_s=7200)))
    try:
        body = {"resident_id": resident, "reason": "eye clinic", "kind": "appointment"}
        created = api.post(REFERRALS, json=body, headers=NURSE)
        assert created.status_code == 201, created.text
        data = created.json()
        due = datetime.fromisoformat(data["sla_due_at"])
        assert due - datetime.fromisoformat(data["created_at"]) == timedelta(hours=2)
    finally:
        asyncio.run(_set_times(db_url, ReferralTimes()))
