"""rules.vocabulary: the one place protocol v1's words are defined, and what derives from it."""

from __future__ import annotations

from typing import get_args

import pytest

from rules.types import Source
from rules.vitals_config import METRICS, VitalsConfig
from rules.vocabulary import (
    BED_FIELDS,
    CLINICAL_METRICS,
    DEVICE_METRICS,
    FHIR_UNITS,
    LOINC_BP_COMPONENTS,
    LOINC_VITALS,
    METRIC_NAMES,
    NUMERIC_STREAMS,
    RANGES,
    STREAMS,
    UNITS,
    VITAL_SIGNS,
    VITALS_FIELDS,
    device_topic,
    is_service_client_id,
)
from rules.vocabulary import METRICS as VOCABULARY


def test_every_metric_is_described_once() -> None:
    assert tuple(VOCABULARY) == METRIC_NAMES
    assert set(VITAL_SIGNS) | set(CLINICAL_METRICS) | set(DEVICE_METRICS) <= set(METRIC_NAMES)
    assert set(DEVICE_METRICS) == set(VITALS_FIELDS) | set(BED_FIELDS)
    assert "acvpu" not in DEVICE_METRICS  # entered by staff only
    assert all(name in UNITS for name in METRIC_NAMES)
    for lo, hi in RANGES.values():
        assert lo < hi


def test_coded_metrics_have_a_ucum_unit_and_distinct_codes() -> None:
    codes = [c.code for m in VOCABULARY.values() for c in m.loinc]
    assert len(codes) == len(set(codes))
    assert set(LOINC_VITALS) | set(LOINC_BP_COMPONENTS) == set(codes)
    assert set(LOINC_VITALS.values()) | set(LOINC_BP_COMPONENTS.values()) == set(FHIR_UNITS)
    for name, units in FHIR_UNITS.items():
        assert VOCABULARY[name].ucum in units


def test_the_rules_read_the_vocabulary() -> None:
    assert METRICS == VITAL_SIGNS
    config = VitalsConfig()
    for name in VITAL_SIGNS:
        assert getattr(config, name).plausible == RANGES[name]
    assert get_args(Source) == (*NUMERIC_STREAMS, "manual")
    assert set(NUMERIC_STREAMS) < set(STREAMS)


@pytest.mark.parametrize(
    ("client_id", "reserved"),
    [("carewatch-ingest-2", True), ("CareWatch-x", True), ("w-001", False), ("care", False)],
)
def test_service_client_ids(client_id: str, reserved: bool) -> None:
    assert is_service_client_id(client_id) is reserved


def test_device_topic() -> None:
    assert device_topic("s1", "d-1", "vitals") == "carewatch/v1/s1/d-1/vitals"
    with pytest.raises(ValueError, match="unknown stream"):
        device_topic("s1", "d-1", "ecg")
