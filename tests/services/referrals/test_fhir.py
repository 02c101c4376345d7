from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from services.referrals.fhir import (
    SERVICE_REQUEST_STATUS,
    TASK_STATUS,
    bundle_json,
    full_url,
    priority,
)
from services.referrals.model import STATES, State
from services.referrals.reasons import from_alert
from tests.services.referrals.builders import in_state, requested_by_hand, suggested

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def by_type(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


def url_of(data: dict[str, Any], kind: str) -> str:
    (url,) = [e["fullUrl"] for e in data["entry"] if e["resource"]["resourceType"] == kind]
    return str(url)


def loinc(resource: dict[str, Any]) -> set[str]:
    return {c["code"] for c in resource["code"].get("coding", []) if c["system"] == LOINC}


@pytest.fixture(scope="module")
def exported() -> dict[str, Any]:
    return bundle_json(in_state("requested"))


def test_parses_as_an_r4_collection_bundle(exported: dict[str, Any]) -> None:
    bundle = Bundle.model_validate(exported)
    assert bundle.type == "collection"
    kinds = [e["resource"]["resourceType"] for e in exported["entry"]]
    assert kinds[:4] == ["Patient", "Organization", "ServiceRequest", "Task"]
    assert set(kinds) == {"Patient", "Organization", "ServiceRequest", "Task", "Observation"}
    for entry in exported["entry"]:
        assert entry["fullUrl"].startswith("urn:uuid:")
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"


def test_references_point_at_the_entries(exported: dict[str, Any]) -> None:
    patient, org, sr_url = (
        url_of(exported, k) for k in ("Patient", "Organization", "ServiceRequest")
    )
    (sr,) = by_type(exported, "ServiceRequest")
    (task,) = by_type(exported, "Task")
    assert sr["subject"]["reference"] == patient
    assert sr["performer"][0]["reference"] == org
    assert sr["intent"] == "order" and sr["priority"] == "stat"
    assert sr["reasonCode"][0]["text"].startswith("NEWS2 8")
    assert task["focus"]["reference"] == sr_url
    assert task["for"]["reference"] == patient
    assert task["owner"]["reference"] == org
    urls = {e["fullUrl"] for e in exported["entry"]}
    assert {r["reference"] for r in sr["supportingInfo"]} <= urls
    for obs in by_type(exported, "Observation"):
        assert obs["subject"]["reference"] == patient


def test_patient_and_hospital(exported: dict[str, Any]) -> None:
    (patient,) = by_type(exported, "Patient")
    assert patient["name"][0]["text"] == "王秀英"
    assert (patient["gender"], patient["birthDate"]) == ("female", "1938-05-17")
    assert patient["identifier"][0]["value"] == "42"
    (org,) = by_type(exported, "Organization")
    assert org["name"] == "市第一人民医院"


def test_vital_signs_carry_loinc_codes_and_ucum_units(exported: dict[str, Any]) -> None:
    vitals = [
        o
        for o in by_type(exported, "Observation")
        if o["category"][0]["coding"][0]["code"] == "vital-signs"
    ]
    units: dict[str, set[str]] = {}
    for obs in vitals:
        codes = frozenset(loinc(obs))
        if "85354-9" in codes:
            components = {
                c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in obs["component"]
            }
            assert set(components) == {"8480-6", "8462-4"}
            for q in components.values():
                assert (q["system"], q["code"]) == (UCUM, "mm[Hg]")
            continue
        q = obs["valueQuantity"]
        assert q["system"] == UCUM
        units.setdefault(",".join(sorted(codes)), set()).add(q["code"])
    assert units == {
        "8867-4": {"/min"},
        "2708-6,59408-5": {"%"},
        "9279-1": {"/min"},
        "8310-5": {"Cel"},
    }


def test_snapshot_is_down_sampled_to_the_last_value_per_15_minutes() -> None:
    referral = in_state("requested")
    data = bundle_json(referral)
    hr = [o for o in by_type(data, "Observation") if loinc(o) == {"8867-4"}]
    # 24 h of 5-minute readings ending on a quarter hour: 96 buckets, plus the one at T0.
    assert len(hr) == 97
    assert hr[-1]["effectiveDateTime"] == "2026-03-01T08:00:00Z"
    # The last of the three readings in [07:45, 08:00) is 07:55.
    assert hr[-2]["effectiveDateTime"] == "2026-03-01T07:55:00Z"
    everything = bundle_json(referral, bucket_s=0)
    hr_all = [o for o in by_type(everything, "Observation") if loinc(o) == {"8867-4"}]
    assert len(hr_all) == len([v for v in referral.vitals if v.metric == "hr"])
    bp = [o for o in by_type(data, "Observation") if "85354-9" in loinc(o)]
    assert len(bp) == 6


def test_news2_observation(exported: dict[str, Any]) -> None:
    (news2,) = [o for o in by_type(exported, "Observation") if o["code"]["text"] == "NEWS2 total"]
    assert news2["valueInteger"] == 8
    assert news2["status"] == "final"
    parts = {c["code"]["text"]: c["valueInteger"] for c in news2["component"]}
    assert parts["NEWS2 rr sub-score"] == 3 and parts["NEWS2 hr sub-score"] == 2
    (sr,) = by_type(exported, "ServiceRequest")
    assert sr["reasonReference"][0]["reference"] == full_url("ref-1", "Observation", "news2")


@pytest.mark.parametrize("state", STATES)
def test_statuses_follow_the_workflow(state: State) -> None:
    data = bundle_json(in_state(state), bucket_s=3600)
    Bundle.model_validate(data)
    (sr,) = by_type(data, "ServiceRequest")
    (task,) = by_type(data, "Task")
    assert sr["status"] == SERVICE_REQUEST_STATUS[state]
    assert task["status"] == TASK_STATUS[state]
    assert task["businessStatus"]["text"] == state


def test_status_mapping_values() -> None:
    assert TASK_STATUS == {
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
    assert SERVICE_REQUEST_STATUS["suggested"] == "draft"
    assert SERVICE_REQUEST_STATUS["in_transit"] == "active"
    assert SERVICE_REQUEST_STATUS["declined"] == "revoked"


def test_export_is_reproducible() -> None:
    assert bundle_json(suggested()) == bundle_json(suggested())
    other = bundle_json(suggested("ref-other"))
    assert other["id"] != bundle_json(suggested())["id"]


def test_manual_referral_without_vitals_or_news2() -> None:
    referral = requested_by_hand()
    data = bundle_json(referral)
    Bundle.model_validate(data)
    assert by_type(data, "Observation") == []
    (sr,) = by_type(data, "ServiceRequest")
    assert sr["priority"] == priority(referral) == "routine"
    assert "reasonReference" not in sr and "supportingInfo" not in sr


def test_negative_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="bucket_s"):
        bundle_json(suggested(), bucket_s=-1)


def test_a_rules_reason_is_in_the_sites_language_and_staffs_words_as_written() -> None:
    code = from_alert("news2", {"total": 8, "band": "high", "rr": 3, "value_rr": 26})
    referral = replace(suggested(), reason_code=code)
    (sr,) = by_type(bundle_json(referral), "ServiceRequest")  # the product default: zh-CN
    assert (
        sr["reasonCode"][0]["text"] == "NEWS2 评分升高，NEWS2 8（高风险）：呼吸频率 26 次/分（3）"
    )
    (sr,) = by_type(bundle_json(referral, language="en"), "ServiceRequest")
    assert sr["reasonCode"][0]["text"].startswith("NEWS2 raised — NEWS2 8 (High risk)")
    (sr,) = by_type(bundle_json(requested_by_hand()), "ServiceRequest")
    assert sr["reasonCode"][0]["text"] == "Suspected hip fracture after a fall"
