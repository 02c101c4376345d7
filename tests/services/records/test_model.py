"""The record's API fields: each error has a type the error catalogue names, in both
languages, and no error repeats an identifier."""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from services.catalogue import LANGUAGES, has
from services.records.model import ABILITY_LEVELS, RecordFields, Sex

ID = "11010519491231002X"


@pytest.mark.parametrize(
    ("fields", "kind", "loc"),
    [
        ({"national_id": "110105194912310021"}, "national_id_checksum", ("national_id",)),
        ({"national_id": "1101"}, "national_id_format", ("national_id",)),
        ({"national_id": "110105194913310028"}, "national_id_date", ("national_id",)),
        ({"national_id": ID, "birth_date": "1950-01-01"}, "national_id_birth_date", ()),
        ({"insurance_no": "AB-12"}, "insurance_no_format", ("insurance_no",)),
        ({"phone": "call me"}, "phone_format", ("phone",)),
        (
            {"diagnoses": [{"code": "high bp", "display": "x"}]},
            "icd10_format",
            ("diagnoses", 0, "code"),
        ),
        (
            {"ability": {"level": "mild", "assessed_on": "2026-03-01", "due_on": "2026-03-01"}},
            "ability_due_order",
            ("ability",),
        ),
        (
            {"ability": {"level": "能力完好", "assessed_on": "2026-03-01", "due_on": "2027-03-01"}},
            "literal_error",
            ("ability", "level"),
        ),
        ({"sex": "M"}, "literal_error", ("sex",)),
    ],
    ids=[
        "checksum",
        "id-format",
        "id-date",
        "id-vs-birth",
        "insurance",
        "phone",
        "icd10",
        "due",
        "level",
        "sex",
    ],
)
def test_errors_are_typed_for_the_catalogue(
    fields: dict[str, Any], kind: str, loc: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        RecordFields.model_validate(fields)
    (error,) = caught.value.errors()
    assert (error["type"], error["loc"]) == (kind, loc)
    assert "1101051949" not in error["msg"]
    assert all(has(language, f"error_type.{kind}") for language in LANGUAGES)


def test_a_whole_record_validates() -> None:
    record = RecordFields.model_validate(
        {
            "sex": "female",
            "birth_date": "1949-12-31",
            "national_id": ID.lower(),
            "insurance_no": "ZJ1234567890",
            "phone": "+86 138-0013-8000",
            "address": "杭州市西湖区文三路 1 号",
            "emergency_contacts": [{"name": "李梅", "relation": "女儿", "phone": "13800138000"}],
            "diagnoses": [{"code": "I10", "display": "原发性高血压"}],
            "allergies": ["青霉素"],
            "medications": "氨氯地平 5 mg qd",
            "ability": {"level": "moderate", "assessed_on": "2026-03-01", "due_on": "2027-03-01"},
        }
    )
    assert record.national_id == ID and record.birth_date == date(1949, 12, 31)


@pytest.mark.parametrize(
    ("prefix", "values"), [("ability.", ABILITY_LEVELS), ("sex.", get_args(Sex))]
)
def test_levels_and_sexes_have_labels_in_both_languages(
    prefix: str, values: tuple[str, ...]
) -> None:
    assert [v for v in values for lang in LANGUAGES if not has(lang, prefix + v)] == []
