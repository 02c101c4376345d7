"""The record's fields as the API takes and gives them (issue 17). Errors carry a type the
error catalogue names (`error_type.<type>`, zh-CN and English); no message repeats an
identifier's value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Final, Literal, get_args

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from services.records import identity


def _storable(value: str) -> str:
    # PostgreSQL keeps no NUL in text (as services.api.deps.PgText, not imported: that module
    # imports the residents' repository, which imports this one).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\u0000)")
    return value


PgText = Annotated[str, AfterValidator(_storable)]

# FHIR administrative-gender codes.
Sex = Literal["male", "female", "other", "unknown"]
# GB/T 42195-2022 levels of older adults' ability: 能力完好, 能力轻度受损, 能力中度受损,
# 能力重度受损, 能力完全丧失 (the catalogue's `ability.<code>` has the words).
AbilityLevel = Literal["intact", "mild", "moderate", "severe", "complete_loss"]
ABILITY_LEVELS: Final = get_args(AbilityLevel)


def _checked(check: Callable[[str], str]) -> AfterValidator:
    """A validator raising the check's IdentityError as an error of the catalogue's type."""

    def run(value: str) -> str:
        try:
            return check(value)
        except identity.IdentityError as exc:
            raise PydanticCustomError(exc.kind, str(exc)) from None

    return AfterValidator(run)


def _phone(value: str) -> str:
    number = value.strip()
    if not identity.PHONE.match(number):
        raise identity.IdentityError(
            "phone_format", "not a phone number: digits, optionally + first and - or spaces"
        )
    return number


NationalId = Annotated[PgText, _checked(identity.check_national_id)]
InsuranceNo = Annotated[
    PgText,
    StringConstraints(strip_whitespace=True, min_length=4, max_length=32),
    _checked(identity.check_insurance_no),
]
Phone = Annotated[PgText, _checked(_phone)]
Icd10 = Annotated[PgText, _checked(identity.check_icd10)]


Name = Annotated[PgText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Relation = Annotated[PgText, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Display = Annotated[PgText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Allergy = Annotated[PgText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Address = Annotated[PgText, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Medications = Annotated[PgText, StringConstraints(strip_whitespace=True, max_length=4000)]


class Contact(BaseModel):
    """An emergency contact."""

    name: Name
    relation: Relation = Field(description="e.g. 女儿 (daughter), 配偶 (spouse)")
    phone: Phone


class Diagnosis(BaseModel):
    code: Icd10 = Field(description="ICD-10 (WHO or the Chinese clinical edition), e.g. I10")
    display: Display


class Ability(BaseModel):
    """The GB/T 42195-2022 ability assessment: the level, when assessed, when due again."""

    level: AbilityLevel
    assessed_on: date
    due_on: date = Field(description="the next re-assessment; after assessed_on")

    @model_validator(mode="after")
    def _order(self) -> Ability:
        if self.due_on <= self.assessed_on:
            raise PydanticCustomError(
                "ability_due_order", "the re-assessment must be due after the assessment date"
            )
        return self


class RecordFields(BaseModel):
    """The record's fields, each optional: absent is unknown."""

    sex: Sex | None = Field(default=None, description="FHIR administrative gender")
    birth_date: date | None = None
    national_id: NationalId | None = Field(
        default=None, description="18-character PRC resident ID (GB 11643); encrypted at rest"
    )
    insurance_no: InsuranceNo | None = Field(
        default=None, description="medical-insurance number; encrypted at rest"
    )
    phone: Phone | None = None
    address: Address | None = Field(default=None, description="home address (family beds)")
    emergency_contacts: list[Contact] | None = Field(default=None, max_length=10)
    diagnoses: list[Diagnosis] | None = Field(default=None, max_length=40)
    allergies: list[Allergy] | None = Field(default=None, max_length=40)
    medications: Medications | None = Field(default=None, description="free text")
    ability: Ability | None = None

    @model_validator(mode="after")
    def _same_birth_date(self) -> RecordFields:
        if (
            self.national_id is not None
            and self.birth_date is not None
            and identity.national_id_birth_date(self.national_id) != self.birth_date
        ):
            raise PydanticCustomError(
                "national_id_birth_date",
                "the birth date differs from the one in the national ID",
            )
        return self


RECORD_FIELDS: Final = tuple(RecordFields.model_fields)


class RecordOut(BaseModel):
    """The record as shown: identifiers masked unless the caller's role needs them."""

    sex: Sex | None
    birth_date: date | None
    national_id: str | None
    insurance_no: str | None
    identifiers_masked: bool = Field(
        description="true: national_id and insurance_no show only their ends (docs/security.md)"
    )
    phone: str | None
    address: str | None
    emergency_contacts: list[Contact]
    diagnoses: list[Diagnosis]
    allergies: list[str]
    medications: str | None
    ability: Ability | None
