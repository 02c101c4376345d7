"""The resident record in a referral's FHIR export (issue 17): the Patient's identifiers,
gender, birth date, telecom, address and emergency contacts, and a Condition per ICD-10
diagnosis and an AllergyIntolerance per allergy. Pure; `fhir.py` assembles and validates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from services.referrals.model import PatientRecord

# The PRC resident ID card number: the OID China's health-record sharing documents (WS/T 500)
# give it. The medical-insurance number has no national system URI: a local URN.
NATIONAL_ID_SYSTEM: Final = "urn:oid:2.16.156.10011.1.3"
INSURANCE_NO_SYSTEM: Final = "urn:carewatch:cn-medical-insurance-no"
ICD10_SYSTEM: Final = "http://hl7.org/fhir/sid/icd-10"
_V2_0203: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"  # identifier types
_V2_0131: Final = "http://terminology.hl7.org/CodeSystem/v2-0131"  # contact roles
_CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
_ALLERGY_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"

# (kind, key) -> the resource's deterministic `urn:uuid:` (fhir.full_url of the referral).
UrlOf = Callable[[str, str], str]


def with_record(patient: dict[str, Any], record: PatientRecord) -> dict[str, Any]:
    """`patient` (a Patient resource) with what the record knows."""
    out = dict(patient)
    identifiers = list(out.get("identifier", []))
    if record.national_id is not None:
        identifiers.append(
            _identifier(
                NATIONAL_ID_SYSTEM,
                record.national_id,
                "NI",
                "National unique individual identifier",
            )
        )
    if record.insurance_no is not None:
        identifiers.append(
            _identifier(INSURANCE_NO_SYSTEM, record.insurance_no, "SN", "Subscriber Number")
        )
    out["identifier"] = identifiers
    if record.sex is not None:
        out["gender"] = record.sex
    if record.birth_date is not None:
        out["birthDate"] = record.birth_date.isoformat()
    if record.phone is not None:
        out["telecom"] = [{"system": "phone", "value": record.phone, "use": "home"}]
    if record.address is not None:
        out["address"] = [{"use": "home", "text": record.address, "country": "CN"}]
    if record.contacts:
        emergency = {"system": _V2_0131, "code": "C", "display": "Emergency Contact"}
        out["contact"] = [
            {
                "relationship": [{"coding": [emergency], "text": c.relation}],
                "name": {"text": c.name},
                "telecom": [{"system": "phone", "value": c.phone}],
            }
            for c in record.contacts
        ]
    return out


def conditions(
    record: PatientRecord, patient_url: str, url_of: UrlOf
) -> list[tuple[str, dict[str, Any]]]:
    """A Condition per diagnosis: active, on the problem list, coded in ICD-10."""
    category = {
        "system": _CONDITION_CATEGORY,
        "code": "problem-list-item",
        "display": "Problem List Item",
    }
    out = []
    for code, display in record.diagnoses:
        url = url_of("Condition", code)
        resource = {
            "resourceType": "Condition",
            "id": url.removeprefix("urn:uuid:"),
            "clinicalStatus": {"coding": [{"system": _CONDITION_CLINICAL, "code": "active"}]},
            "category": [{"coding": [category]}],
            "code": {
                "coding": [{"system": ICD10_SYSTEM, "code": code, "display": display}],
                "text": display,
            },
            "subject": {"reference": patient_url},
        }
        out.append((url, resource))
    return out


def allergies(
    record: PatientRecord, patient_url: str, url_of: UrlOf
) -> list[tuple[str, dict[str, Any]]]:
    """An AllergyIntolerance per allergy, active, its substance as charted (free text)."""
    out = []
    for n, substance in enumerate(record.allergies):
        url = url_of("AllergyIntolerance", str(n))
        resource = {
            "resourceType": "AllergyIntolerance",
            "id": url.removeprefix("urn:uuid:"),
            "clinicalStatus": {"coding": [{"system": _ALLERGY_CLINICAL, "code": "active"}]},
            "code": {"text": substance},
            "patient": {"reference": patient_url},
        }
        out.append((url, resource))
    return out


def _identifier(system: str, value: str, code: str, display: str) -> dict[str, Any]:
    return {
        "use": "official",
        "type": {"coding": [{"system": _V2_0203, "code": code, "display": display}]},
        "system": system,
        "value": value,
    }
