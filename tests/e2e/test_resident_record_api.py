"""The resident record through the real app and database (issue 17): admission with the whole
record, identifiers encrypted at rest and never logged, masked by role, validation errors that
name the field and the catalogue's type."""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.api.app import create_app
from services.records.crypto import KEY_FILE
from services.records.identity import mask_national_id
from services.settings import Settings, admin_token
from tests.support import SITE, UNIT, UNTHROTTLED, Conn, fresh_national_id, login_as

RESIDENTS = "/api/v1/residents"
NATIONAL_ID = "11010519491231002X"
INSURANCE_NO = "ZJ330106778899"
RECORD: dict[str, Any] = {
    "sex": "female",
    "birth_date": "1949-12-31",
    "national_id": NATIONAL_ID,
    "insurance_no": INSURANCE_NO,
    "phone": "13800138000",
    "address": "杭州市西湖区文三路 1 号 3 单元 201",
    "emergency_contacts": [{"name": "李梅", "relation": "女儿", "phone": "13900139000"}],
    "diagnoses": [
        {"code": "I10", "display": "原发性高血压"},
        {"code": "E11.900", "display": "2型糖尿病"},
    ],
    "allergies": ["青霉素"],
    "medications": "氨氯地平 5 mg 每日一次",
    "ability": {"level": "moderate", "assessed_on": "2026-03-01", "due_on": "2027-03-01"},
}
MASKED = {"national_id": "110105********002X", "insurance_no": "**********8899"}


def admit(api: TestClient, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """Admitted with the whole record; its national ID is NATIONAL_ID's birth date and a
    sequence of its own unless given (one person, one record per site)."""
    own = {"national_id": fresh_national_id()}
    body = {"site_id": SITE, "unit_id": UNIT, "display_name": "王秀英", **RECORD, **own, **fields}
    created = api.post(RESIDENTS, json=body, headers=headers or {})
    assert created.status_code == 201, created.text
    data: dict[str, Any] = created.json()
    return data


@pytest.fixture
def nurse(api: TestClient, ward: str) -> dict[str, str]:
    return login_as(api, "rec-nurse", "nurse", site=SITE, units=(UNIT,), staff="rec-nurse")


def test_admission_with_the_whole_record(
    api: TestClient, db: Conn, nurse: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    nid = fresh_national_id()
    made = admit(api, nurse, national_id=nid)
    rid = made["resident_id"]
    for field, value in {**RECORD, "national_id": nid}.items():
        assert made[field] == value, field
    assert made["identifiers_masked"] is False
    assert api.get(f"{RESIDENTS}/{rid}", headers=nurse).json() == made

    # At rest: tokens only. No column of the row, read as text, holds either number (nor
    # their digits without the check character).
    row = db.execute(
        "SELECT r::text, national_id_enc, insurance_no_enc FROM residents r WHERE resident_id = %s",
        [rid],
    ).fetchone()
    assert row is not None
    text, national_token, insurance_token = row
    for secret in (nid, nid[:17], INSURANCE_NO):
        assert secret not in text
        assert secret.encode() not in bytes(national_token) + bytes(insurance_token)
    # Nor the audit log, nor any log line of the admission and the read.
    audit = db.execute(
        "SELECT string_agg(a::text, ' ') FROM audit_log a WHERE resident_id = %s", [rid]
    ).fetchone()
    assert audit is not None and nid[:17] not in audit[0]
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert caplog.records  # the capture works: the request lines are there
    for secret in (nid[:17], INSURANCE_NO):
        assert secret not in logged


@pytest.mark.parametrize(
    ("role", "whole"),
    [("admin", True), ("physician", True), ("nurse", True), ("caregiver", False)],
)
def test_identifiers_are_masked_for_roles_that_do_not_need_them(
    api: TestClient, ward: str, role: str, whole: bool
) -> None:
    nid = fresh_national_id()
    rid = admit(api, national_id=nid)["resident_id"]
    headers = login_as(api, f"rec-{role}", role, site=SITE, units=(UNIT,), staff=f"rec-{role}")
    masked = {**MASKED, "national_id": mask_national_id(nid)}
    expected = {"national_id": nid, "insurance_no": INSURANCE_NO} if whole else masked
    one = api.get(f"{RESIDENTS}/{rid}", headers=headers).json()
    listed = api.get(RESIDENTS, params={"unit": UNIT, "limit": 500}, headers=headers).json()
    (in_list,) = [r for r in listed["items"] if r["resident_id"] == rid]
    for shown in (one, in_list):
        assert {k: shown[k] for k in expected} == expected
        assert shown["identifiers_masked"] is not whole
        assert shown["diagnoses"] == RECORD["diagnoses"]  # the rest is the same for all


def test_a_caregiver_reads_but_a_nurse_edits_the_record(
    api: TestClient, ward: str, nurse: dict[str, str]
) -> None:
    rid = admit(api, nurse, national_id=None, insurance_no=None)["resident_id"]
    cg = login_as(api, "rec-cg2", "caregiver", site=SITE, units=(UNIT,), staff="rec-cg2")
    assert api.get(f"{RESIDENTS}/{rid}", headers=cg).json()["national_id"] is None
    refused = api.patch(f"{RESIDENTS}/{rid}", json={"allergies": []}, headers=cg)
    assert refused.status_code == 403
    nid = fresh_national_id()
    changed = api.patch(
        f"{RESIDENTS}/{rid}",
        json={"national_id": nid, "allergies": ["磺胺类"], "ability": None},
        headers=nurse,
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()
    assert (data["national_id"], data["allergies"], data["ability"]) == (
        nid,
        ["磺胺类"],
        None,
    )
    assert data["diagnoses"] == RECORD["diagnoses"]  # untouched
    assert api.get(f"{RESIDENTS}/{rid}", headers=cg).json()["national_id"] == mask_national_id(nid)
    cleared = api.patch(f"{RESIDENTS}/{rid}", json={"national_id": None}, headers=nurse).json()
    assert cleared["national_id"] is None


def test_residents_admitted_without_a_record_read_as_unknown(api: TestClient, ward: str) -> None:
    made = api.post(
        RESIDENTS, json={"site_id": SITE, "unit_id": UNIT, "display_name": "赵兰"}
    ).json()
    assert {k: made[k] for k in ("sex", "birth_date", "national_id", "ability")} == dict.fromkeys(
        ("sex", "birth_date", "national_id", "ability")
    )
    assert (made["emergency_contacts"], made["diagnoses"], made["allergies"]) == ([], [], [])


@pytest.mark.parametrize(
    ("fields", "loc", "kind"),
    [
        ({"national_id": "110105194912310021"}, ["body", "national_id"], "national_id_checksum"),
        ({"birth_date": "1950-01-01"}, ["body"], "national_id_birth_date"),
        (
            {"diagnoses": [{"code": "高血压", "display": "x"}]},
            ["body", "diagnoses", 0, "code"],
            "icd10_format",
        ),
        (
            {"ability": {"level": "mild", "assessed_on": "2026-03-01", "due_on": "2025-03-01"}},
            ["body", "ability"],
            "ability_due_order",
        ),
        ({"national_id": None, "birth_date": "2999-01-01"}, ["body", "birth_date"], "value_error"),
        ({"sex": "F"}, ["body", "sex"], "literal_error"),
    ],
    ids=["checksum", "birth-vs-id", "icd10", "due-before", "future-birth", "sex"],
)
def test_bad_input_names_the_field_and_stores_nothing(
    api: TestClient, db: Conn, ward: str, fields: dict[str, Any], loc: list[Any], kind: str
) -> None:
    before = db.execute("SELECT count(*) FROM residents").fetchone()
    body = {"site_id": SITE, "unit_id": UNIT, "display_name": "坏数据", **RECORD, **fields}
    refused = api.post(RESIDENTS, json=body)
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["detail"]
    assert (error["loc"], error["type"]) == (loc, kind)
    assert db.execute("SELECT count(*) FROM residents").fetchone() == before


def test_the_local_stack_made_its_record_key(settings: Settings) -> None:
    # `carewatch up` (LocalStack.start, as the session's stack) creates it, private.
    path = Path(settings.data_dir) / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_wrong_or_missing_key_is_a_clear_503_and_loses_nothing(
    api: TestClient, settings: Settings
) -> None:
    nid = fresh_national_id()
    rid = admit(api, national_id=nid)["resident_id"]
    plain = admit(api, national_id=None, insurance_no=None)["resident_id"]
    other = settings.model_copy(
        update={**UNTHROTTLED, "record_key": SecretStr(Fernet.generate_key().decode())}
    )
    with TestClient(create_app(other)) as wrong:
        wrong.headers["Authorization"] = f"Bearer {admin_token(settings)}"
        refused = wrong.get(f"{RESIDENTS}/{rid}")
        assert refused.status_code == 503 and "does not decrypt" in refused.text
        assert wrong.get(f"{RESIDENTS}/{plain}").status_code == 200
        wrong.app.state.records = None  # type: ignore[attr-defined]  # as with no key at all
        body = {"site_id": SITE, "unit_id": UNIT, "display_name": "无钥", **RECORD}
        refused = wrong.post(RESIDENTS, json=body)
        assert refused.status_code == 503 and "CAREWATCH_RECORD_KEY" in refused.text
    # With the right key, all is still there.
    assert api.get(f"{RESIDENTS}/{rid}").json()["national_id"] == nid


def test_a_change_of_one_must_agree_with_the_other_as_stored(
    api: TestClient, nurse: dict[str, str]
) -> None:
    nid = fresh_national_id()
    rid = admit(api, national_id=nid)["resident_id"]
    url = f"{RESIDENTS}/{rid}"
    for fields, field in (
        ({"birth_date": "1950-01-01"}, "birth_date"),
        ({"national_id": "440304199001011233"}, "national_id"),  # born 1990-01-01
    ):
        refused = api.patch(url, json=fields, headers=nurse)
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["detail"]
        assert error["loc"] == ["body", field]
        assert "national ID" in error["msg"]
    kept = api.get(url, headers=nurse).json()
    assert (kept["birth_date"], kept["national_id"]) == ("1949-12-31", nid)
    # Both at once, agreeing; and the ID cleared, any birth date.
    both = {"birth_date": "1990-01-01", "national_id": "440304199001011233"}
    assert api.patch(url, json=both, headers=nurse).status_code == 200
    assert api.patch(url, json={"national_id": None}, headers=nurse).status_code == 200
    assert api.patch(url, json={"birth_date": "1950-01-01"}, headers=nurse).status_code == 200


def test_one_person_has_one_record_per_site(
    api: TestClient, db: Conn, nurse: dict[str, str], settings: Settings
) -> None:
    nid = fresh_national_id()
    first = admit(api, nurse, national_id=nid)["resident_id"]
    other = admit(api, nurse)["resident_id"]
    named = "SELECT count(*) FROM residents WHERE display_name = '王秀英'"
    before = db.execute(named).fetchone()
    twice = {"site_id": SITE, "unit_id": UNIT, "display_name": "王秀英", **RECORD}
    refused = api.post(RESIDENTS, json={**twice, "national_id": nid.lower()}, headers=nurse)
    assert refused.status_code == 409, refused.text
    assert f"resident {first} " in refused.json()["detail"]
    # Nor given to another resident of the site; giving it back to the same one is no change.
    moved = api.patch(f"{RESIDENTS}/{other}", json={"national_id": nid}, headers=nurse)
    assert moved.status_code == 409, moved.text
    same = api.patch(f"{RESIDENTS}/{first}", json={"national_id": nid}, headers=nurse)
    assert same.status_code == 200, same.text
    assert db.execute(named).fetchone() == before

    # A row stored before digests existed (migration 0026) is given its digest when the API
    # starts, and counts from then on.
    db.execute("UPDATE residents SET national_id_digest = NULL WHERE resident_id = %s", [first])
    with TestClient(create_app(settings.model_copy(update=UNTHROTTLED))) as restarted:
        restarted.headers["Authorization"] = f"Bearer {admin_token(settings)}"
        again = restarted.post(RESIDENTS, json={**twice, "national_id": nid})
        assert again.status_code == 409, again.text
    digest = db.execute(
        "SELECT national_id_digest FROM residents WHERE resident_id = %s", [first]
    ).fetchone()
    assert digest is not None and digest[0] is not None
