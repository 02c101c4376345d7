"""A discharge summary received as a FHIR R4 Bundle (a hospital's own system sending the
downward referral): validated with fhir.resources, then read into `DischargeSummary`.

What is read: the Patient by its CareWatch identifier (as the referral export sends it), each
Condition's ICD-10 coding, each MedicationStatement (the change from `statusReason` coded in
MEDICATION_CHANGE_SYSTEM, else from its status), and the CarePlans' descriptions as the
follow-up plan. Anything wrong raises InvalidBundle naming the part at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from services.referrals.discharge import MEDICATION_CHANGES, DischargeSummary
from services.referrals.errors import InvalidBundle
from services.referrals.fhir import RESIDENT_ID_SYSTEM
from services.referrals.fhir_record import ICD10_SYSTEM

MEDICATION_CHANGE_SYSTEM: Final = "urn:carewatch:medication-change"
# A MedicationStatement without a coded change: what its status says.
_BY_STATUS: Final[Mapping[str, str]] = {
    "intended": "start",
    "stopped": "stop",
    "completed": "stop",
    "on-hold": "stop",
}


def read_bundle(data: Any) -> tuple[int, DischargeSummary]:
    """The resident id and the discharge summary a Bundle carries; InvalidBundle otherwise."""
    bundle = _validated(data)
    resident_id: int | None = None
    diagnoses: list[dict[str, str]] = []
    medications: list[dict[str, str]] = []
    plans: list[str] = []
    for i, entry in enumerate(bundle.entry or ()):
        resource: Any = entry.resource  # a typed resource once validated
        where = f"entry[{i}].resource"
        kind = resource.get_resource_type()
        if kind == "Patient":
            resident_id = _resident_id(resource, where, resident_id)
        elif kind == "Condition":
            diagnoses.append(_diagnosis(resource, where))
        elif kind == "MedicationStatement":
            medications.append(_medication(resource, where))
        elif kind == "CarePlan" and resource.description:
            plans.append(str(resource.description))
    if resident_id is None:
        raise InvalidBundle("Patient", f"no Patient with a {RESIDENT_ID_SYSTEM} identifier")
    if not diagnoses:
        raise InvalidBundle("Condition", "no Condition: a discharge summary names the diagnoses")
    if not plans:
        raise InvalidBundle("CarePlan.description", "no follow-up plan (a CarePlan description)")
    try:
        summary = DischargeSummary(
            diagnoses=diagnoses,
            medication_changes=medications,
            follow_up="\n".join(plans),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidBundle(".".join(str(p) for p in first["loc"]), first["msg"]) from None
    return resident_id, summary


def _validated(data: Any) -> Bundle:
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise InvalidBundle("resourceType", "expected a FHIR Bundle")
    try:
        return Bundle.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise InvalidBundle(where.lstrip("."), first["msg"]) from None
    except (KeyError, TypeError, ValueError) as exc:
        # fhir.resources meets an unknown resourceType with a KeyError naming it.
        raise InvalidBundle("entry", f"not FHIR R4: {exc}") from None


def _resident_id(resource: Any, where: str, found: int | None) -> int | None:
    for ident in resource.identifier or ():
        if ident.system == RESIDENT_ID_SYSTEM:
            value = str(ident.value or "")
            if not value.isdigit() or not 0 < int(value) < 2**63:
                raise InvalidBundle(f"{where}.identifier", f"{value!r} is not a resident id")
            if found is not None and found != int(value):
                raise InvalidBundle(f"{where}.identifier", "two Patients: one resident a return")
            return int(value)
    return found


def _diagnosis(resource: Any, where: str) -> dict[str, str]:
    code = resource.code
    for coding in (code.coding if code else None) or ():
        if coding.system == ICD10_SYSTEM and coding.code:
            display = coding.display or (code.text if code else None) or str(coding.code)
            return {"code": str(coding.code), "display": str(display)}
    raise InvalidBundle(f"{where}.code", f"no ICD-10 coding ({ICD10_SYSTEM})")


def _medication(resource: Any, where: str) -> dict[str, str]:
    concept = resource.medicationCodeableConcept
    name = concept.text if concept else None
    if not name and concept and concept.coding:
        name = concept.coding[0].display or concept.coding[0].code
    if not name:
        raise InvalidBundle(f"{where}.medicationCodeableConcept", "names no medication")
    change = _BY_STATUS.get(str(resource.status), "continue")
    for reason in resource.statusReason or ():
        for coding in reason.coding or ():
            if coding.system == MEDICATION_CHANGE_SYSTEM:
                if coding.code not in MEDICATION_CHANGES:
                    raise InvalidBundle(
                        f"{where}.statusReason",
                        f"{coding.code!r} is not one of {', '.join(MEDICATION_CHANGES)}",
                    )
                change = str(coding.code)
    detail = resource.dosage[0].text if resource.dosage and resource.dosage[0].text else ""
    return {"medication": str(name), "change": change, "detail": str(detail)}
