"""The resident record in the FHIR export, without a database: a Bundle that validates with
the record's resources referring to its Patient, reproducibly; no record, no change."""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from services.referrals.fhir import bundle_json
from services.referrals.fhir_record import ICD10_SYSTEM, NATIONAL_ID_SYSTEM
from services.referrals.model import EmergencyContact, PatientRecord
from tests.services.referrals.builders import in_state

RECORD = PatientRecord(
    sex="female",
    birth_date=date(1938, 5, 17),
    national_id="110105193805170020",
    phone="13800138000",
    address="上海市徐汇区",
    contacts=(EmergencyContact("李梅", "女儿", "13900139000"),),
    diagnoses=(("I10", "原发性高血压"), ("E11.900", "2型糖尿病")),
    allergies=("青霉素",),
)


def resources(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


def test_the_record_makes_a_valid_bundle_around_its_patient() -> None:
    data = bundle_json(in_state("accepted"), record=RECORD)
    Bundle.model_validate(data)
    (patient,) = resources(data, "Patient")
    patient_url = f"urn:uuid:{patient['id']}"
    assert {i["system"]: i["value"] for i in patient["identifier"]}[NATIONAL_ID_SYSTEM] == (
        "110105193805170020"
    )
    assert patient["identifier"][1]["type"]["coding"][0]["code"] == "NI"
    assert patient["contact"][0]["telecom"][0]["value"] == "13900139000"
    conditions = resources(data, "Condition")
    assert [c["code"]["coding"][0]["code"] for c in conditions] == ["I10", "E11.900"]
    assert {c["code"]["coding"][0]["system"] for c in conditions} == {ICD10_SYSTEM}
    assert {c["subject"]["reference"] for c in conditions} == {patient_url}
    (allergy,) = resources(data, "AllergyIntolerance")
    assert allergy["patient"]["reference"] == patient_url
    assert bundle_json(in_state("accepted"), record=RECORD) == data  # reproducible


def test_no_record_or_an_empty_one_adds_nothing_but_what_is_known() -> None:
    plain = bundle_json(in_state("accepted"))
    assert bundle_json(in_state("accepted"), record=None) == plain
    empty = bundle_json(in_state("accepted"), record=PatientRecord())
    assert [e["resource"]["resourceType"] for e in empty["entry"]] == [
        e["resource"]["resourceType"] for e in plain["entry"]
    ]
    (patient,) = resources(empty, "Patient")
    assert len(patient["identifier"]) == 1 and "telecom" not in patient
