"""Export a referral as a FHIR R4 Bundle (validated with the R4B models of fhir.resources, R4B
being wire-compatible with R4 for every resource used here).

Pure and reproducible: every id is a uuid5 of the referral id, and no clock is read, so the same
referral always exports to the same JSON.

Bundle type "collection": a "document" needs a Composition first, an author and attestation,
and is an immutable signed-off record; this export is a snapshot of a live workflow (the Task
moves on) for the hospital to read and import, which is what a collection is for.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from fhir.resources.R4B.bundle import Bundle

from rules.news2 import News2Result
from rules.types import SEVERITY_ORDER, Vital
from rules.vocabulary import BLOOD_PRESSURE, METRICS
from rules.vocabulary import BP_PANEL as LOINC_BP_PANEL
from services.catalogue import DEFAULT_LANGUAGE, Language
from services.referrals import fhir_record, reasons
from services.referrals.model import PatientRecord, Referral, State

LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"
SNOMED: Final = "http://snomed.info/sct"
_OBS_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
# Local identifier systems (URNs, so nothing suggests a resolvable registry).
RESIDENT_ID_SYSTEM: Final = "urn:carewatch:resident-id"
HOSPITAL_ID_SYSTEM: Final = "urn:carewatch:hospital-id"
REFERRAL_ID_SYSTEM: Final = "urn:carewatch:referral-id"

# Fixed, so a referral id always yields the same UUIDs.
_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "urn:carewatch:referral-fhir-export")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# Down-sampling of the snapshot: the last value per metric per bucket (epoch-aligned, UTC).
DEFAULT_BUCKET_S: Final = 900

# metric -> (LOINC codings, display text, UCUM code, unit text), from the vocabulary.
_SINGLE: Final[Mapping[str, tuple[tuple[tuple[str, str], ...], str, str, str]]] = {
    m.name: (tuple((c.code, c.display) for c in m.loinc), m.label, m.ucum, m.unit)
    for m in METRICS.values()
    if m.loinc and m.ucum is not None and m.name not in BLOOD_PRESSURE
}
BP_PANEL: Final = (LOINC_BP_PANEL.code, LOINC_BP_PANEL.display)
BP_COMPONENTS: Final[Mapping[str, tuple[str, str]]] = {
    name: (METRICS[name].loinc[0].code, METRICS[name].loinc[0].display) for name in BLOOD_PRESSURE
}
# No LOINC code for the NEWS2 total could be confirmed (88330-6, sometimes quoted for it, is a
# CMS mobility item), so the code is text "NEWS2 total", with the UK SNOMED CT extension concept
# for the RCP NEWS2 total score as a coding a UK-aware receiver can use.
NEWS2_TEXT: Final = "NEWS2 total"
NEWS2_SNOMED: Final = (
    "1104051000000101",
    "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score",
)

# Workflow state -> ServiceRequest.status (R4 request-status). The order is "receive and admit
# this resident": fulfilled at admission, so admitted and returned are both completed.
SERVICE_REQUEST_STATUS: Final[Mapping[State, str]] = {
    "suggested": "draft",  # a rule's proposal, not yet confirmed by a nurse
    "dismissed": "revoked",
    "requested": "active",
    "accepted": "active",
    "declined": "revoked",
    "in_transit": "active",
    "admitted": "completed",
    "returned": "completed",
    "cancelled": "revoked",
}
# Workflow state -> Task.status (R4 task-status); Task.businessStatus carries the exact state.
TASK_STATUS: Final[Mapping[State, str]] = {
    "suggested": "draft",
    "dismissed": "cancelled",
    "requested": "requested",
    "accepted": "accepted",
    "declined": "rejected",
    "in_transit": "in-progress",
    "admitted": "completed",
    "returned": "completed",
    "cancelled": "cancelled",
}


def resource_uuid(referral_id: str, kind: str, key: str = "") -> uuid.UUID:
    """The deterministic id of one resource of a referral's export."""
    return uuid.uuid5(_NAMESPACE, f"{referral_id}/{kind}/{key}")


def full_url(referral_id: str, kind: str, key: str = "") -> str:
    return f"urn:uuid:{resource_uuid(referral_id, kind, key)}"


def priority(referral: Referral) -> str:
    """R4 request-priority: stat for NEWS2 >= 7, a fall or a critical alert; urgent for NEWS2
    5-6 or a high alert; routine otherwise."""
    score = _score(referral.news2)
    worst = max((SEVERITY_ORDER[a.severity] for a in referral.alerts), default=0)
    if (score is not None and score >= 7) or referral.trigger == "fall":
        return "stat"
    if worst >= SEVERITY_ORDER["critical"]:
        return "stat"
    if (score is not None and score >= 5) or worst >= SEVERITY_ORDER["high"]:
        return "urgent"
    return "routine"


def bundle_json(
    referral: Referral,
    *,
    bucket_s: int = DEFAULT_BUCKET_S,
    record: PatientRecord | None = None,
    language: Language = DEFAULT_LANGUAGE,
) -> dict[str, Any]:
    """The referral as a FHIR R4 collection Bundle (JSON-ready dict), validated with the R4B
    models: Patient (with the resident `record`, when given: identifiers, gender, birth date,
    telecom, address, emergency contacts), Organization (the hospital), ServiceRequest, Task,
    the NEWS2 Observation (if any), the vital-sign Observations, down-sampled to the last value
    per metric per `bucket_s` seconds (0: every reading), then the record's Conditions (ICD-10)
    and AllergyIntolerances. A rule's reason is put in words in `language` (the site's, for
    the hospital reading it); staff's own words go as written."""
    if bucket_s < 0:
        raise ValueError(f"bucket_s must be >= 0 (0: no down-sampling), got {bucket_s}")
    rid = referral.referral_id
    patient_url = full_url(rid, "Patient")
    org_url = full_url(rid, "Organization")
    sr_url = full_url(rid, "ServiceRequest")
    observations = _vital_observations(referral, patient_url, bucket_s)
    news2 = _news2_observation(referral, patient_url)
    entries = [
        _entry(patient_url, _patient(referral, record)),
        _entry(org_url, _organization(referral)),
        _entry(
            sr_url,
            _service_request(
                referral,
                language,
                patient_url,
                org_url,
                None if news2 is None else news2[0],
                [url for url, _ in observations],
            ),
        ),
        _entry(full_url(rid, "Task"), _task(referral, patient_url, org_url, sr_url)),
    ]
    if news2 is not None:
        entries.append(_entry(*news2))
    entries += [_entry(url, resource) for url, resource in observations]
    if record is not None:
        url_of = functools.partial(full_url, rid)
        entries += [_entry(*item) for item in fhir_record.conditions(record, patient_url, url_of)]
        entries += [_entry(*item) for item in fhir_record.allergies(record, patient_url, url_of)]
    data = {
        "resourceType": "Bundle",
        "id": str(resource_uuid(rid, "Bundle")),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": full_url(rid, "Bundle")},
        "type": "collection",
        # The time of the referral's last step, not of the export: the same referral exports
        # to the same bytes.
        "timestamp": _instant(referral.updated_at),
        "entry": entries,
    }
    bundle = Bundle.model_validate(data)
    return bundle.model_dump(mode="json")


# --- resources -----------------------------------------------------------------------------


def _entry(url: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": url, "resource": resource}


def _id(url: str) -> str:
    return url.removeprefix("urn:uuid:")


def _patient(referral: Referral, record: PatientRecord | None) -> dict[str, Any]:
    r = referral.resident
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": _id(full_url(referral.referral_id, "Patient")),
        "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": str(r.resident_id)}],
        # Chinese names do not split into given/family reliably: keep the name as written.
        "name": [{"use": "official", "text": r.name}],
        "gender": r.sex,
        "birthDate": r.birth_date.isoformat(),
    }
    return resource if record is None else fhir_record.with_record(resource, record)


def _organization(referral: Referral) -> dict[str, Any]:
    h = referral.hospital
    return {
        "resourceType": "Organization",
        "id": _id(full_url(referral.referral_id, "Organization")),
        "identifier": [{"system": HOSPITAL_ID_SYSTEM, "value": h.hospital_id}],
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "prov",
                        "display": "Healthcare Provider",
                    }
                ]
            }
        ],
        "name": h.name,
    }


def _service_request(
    referral: Referral,
    language: Language,
    patient_url: str,
    org_url: str,
    news2_url: str | None,
    observation_urls: list[str],
) -> dict[str, Any]:
    notes = [f"Care setting: {referral.resident.location}"]
    notes += [
        f"Active alert {a.rule_id} ({a.severity}) since {_instant(a.ts)}: {a.title}"
        for a in referral.alerts
    ]
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": _id(full_url(referral.referral_id, "ServiceRequest")),
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": referral.referral_id}],
        "status": SERVICE_REQUEST_STATUS[referral.state],
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": SNOMED, "code": "3457005", "display": "Patient referral"},
                ]
            }
        ],
        "priority": priority(referral),
        "code": {"text": "Green-channel referral for hospital assessment and admission"},
        "subject": {"reference": patient_url},
        "authoredOn": _instant(referral.created_at),
        "performer": [{"reference": org_url, "display": referral.hospital.name}],
        "reasonCode": [{"text": reasons.render(language, referral.reason_code, referral.reason)}],
        "note": [{"text": text} for text in notes],
    }
    if news2_url is not None:
        resource["reasonReference"] = [{"reference": news2_url}]
    if observation_urls:
        resource["supportingInfo"] = [{"reference": url} for url in observation_urls]
    return resource


def _task(referral: Referral, patient_url: str, org_url: str, sr_url: str) -> dict[str, Any]:
    last = referral.history[-1]
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": _id(full_url(referral.referral_id, "Task")),
        "identifier": [{"system": REFERRAL_ID_SYSTEM, "value": referral.referral_id}],
        "basedOn": [{"reference": sr_url}],
        "status": TASK_STATUS[referral.state],
        "businessStatus": {"text": referral.state},
        "intent": "order",
        "priority": priority(referral),
        "focus": {"reference": sr_url},
        "for": {"reference": patient_url},
        "authoredOn": _instant(referral.created_at),
        "lastModified": _instant(last.at),
        "owner": {"reference": org_url, "display": referral.hospital.name},
    }
    if last.note:
        resource["statusReason"] = {"text": last.note}
    return resource


def _news2_observation(referral: Referral, patient_url: str) -> tuple[str, dict[str, Any]] | None:
    result = referral.news2
    if result is None:
        return None
    url = full_url(referral.referral_id, "Observation", "news2")
    components = [
        {
            "code": {"text": f"NEWS2 {s.parameter} sub-score"},
            "valueInteger": s.score,
        }
        for s in result.sub_scores
    ]
    notes = [f"Incomplete: missing {', '.join(result.missing)}; value is a lower bound"]
    notes = notes if not result.complete else []
    notes += list(result.assumptions)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _id(url),
        "status": "final" if result.complete else "preliminary",
        "category": [_category("survey", "Survey")],
        "code": {
            "coding": [{"system": SNOMED, "code": NEWS2_SNOMED[0], "display": NEWS2_SNOMED[1]}],
            "text": NEWS2_TEXT,
        },
        "subject": {"reference": patient_url},
        "effectiveDateTime": _instant(result.at),
        "valueInteger": _score(result),
        "interpretation": [{"text": f"scale {result.scale}, band {result.band or 'unknown'}"}],
        "component": components,
    }
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    return url, resource


def _vital_observations(
    referral: Referral, patient_url: str, bucket_s: int
) -> list[tuple[str, dict[str, Any]]]:
    rid = referral.referral_id
    out: list[tuple[str, dict[str, Any]]] = []
    singles = [v for v in referral.vitals if v.metric in _SINGLE]
    for v in _last_per_bucket(singles, bucket_s):
        codings, text, ucum, unit = _SINGLE[v.metric]
        url = full_url(rid, "Observation", f"{v.metric}@{_instant(v.ts)}")
        resource = _vital(url, patient_url, v.ts, codings, text)
        resource["valueQuantity"] = _quantity(v.value, unit, ucum)
        out.append((url, resource))
    for ts, values in _bp_readings(referral.vitals, bucket_s):
        url = full_url(rid, "Observation", f"bp@{_instant(ts)}")
        resource = _vital(url, patient_url, ts, (BP_PANEL,), "Blood pressure")
        resource["component"] = [
            {
                "code": {
                    "coding": [
                        {
                            "system": LOINC,
                            "code": BP_COMPONENTS[m][0],
                            "display": BP_COMPONENTS[m][1],
                        }
                    ]
                },
                "valueQuantity": _quantity(values[m], METRICS[m].unit, METRICS[m].ucum or ""),
            }
            for m in BLOOD_PRESSURE
            if m in values
        ]
        out.append((url, resource))
    out.sort(key=lambda item: (item[1]["effectiveDateTime"], item[0]))
    return out


def _vital(
    url: str,
    patient_url: str,
    ts: datetime,
    codings: Iterable[tuple[str, str]],
    text: str,
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": _id(url),
        "status": "final",
        "category": [_category("vital-signs", "Vital Signs")],
        "code": {
            "coding": [{"system": LOINC, "code": code, "display": d} for code, d in codings],
            "text": text,
        },
        "subject": {"reference": patient_url},
        "effectiveDateTime": _instant(ts),
    }


def _bp_readings(vitals: Iterable[Vital], bucket_s: int) -> list[tuple[datetime, dict[str, float]]]:
    # sbp and dbp arrive as separate vitals of one measurement (same time): pair them by time,
    # then keep the last pair per bucket so systolic and diastolic stay from one cuff reading.
    by_ts: dict[datetime, dict[str, float]] = {}
    for v in vitals:
        if v.metric in BP_COMPONENTS:
            by_ts.setdefault(v.ts, {})[v.metric] = v.value
    last: dict[int, datetime] = {}
    for ts in sorted(by_ts):
        last[_bucket(ts, bucket_s)] = ts
    return [(ts, by_ts[ts]) for ts in sorted(last.values())]


def _last_per_bucket(vitals: Iterable[Vital], bucket_s: int) -> list[Vital]:
    last: dict[tuple[str, int], Vital] = {}
    for v in sorted(vitals, key=lambda v: v.ts):
        last[(v.metric, _bucket(v.ts, bucket_s))] = v
    return sorted(last.values(), key=lambda v: (v.ts, v.metric))


def _bucket(ts: datetime, bucket_s: int) -> int:
    # Integer arithmetic on microseconds: float seconds would misplace bucket edges.
    micros = (ts - _EPOCH) // timedelta(microseconds=1)
    return micros // (bucket_s * 1_000_000) if bucket_s > 0 else micros


def _category(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": _OBS_CATEGORY, "code": code, "display": display}]}


def _quantity(value: float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}


def _score(result: News2Result | None) -> int | None:
    if result is None:
        return None
    return result.total if result.total is not None else result.partial_total


def _instant(ts: datetime) -> str:
    # FHIR dateTime with an offset; UTC so the same instant always prints the same.
    return ts.astimezone(UTC).isoformat()
