"""A return's discharge summary (issue 17, downward referral): the diagnoses (ICD-10), the
medication changes and the follow-up plan the hospital sends back with the resident. Pure:
validated at the boundary (the API's JSON, or a FHIR Bundle read by `discharge_fhir.py`)."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from services.records.identity import IdentityError, check_icd10

# start: a new medication; stop: one ended; change: dose or timing changed; continue: kept.
MedicationChange = Literal["start", "stop", "change", "continue"]
MEDICATION_CHANGES: Final = ("start", "stop", "change", "continue")


def _no_nul(value: str) -> str:
    # Stored as jsonb, which keeps no NUL character.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters (\\u0000)")
    return value


Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    AfterValidator(_no_nul),
]


class Diagnosis(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(description="ICD-10, e.g. I63.9", max_length=16)
    display: Line

    @field_validator("code")
    @classmethod
    def _icd10(cls, value: str) -> str:
        try:
            return check_icd10(value)
        except IdentityError as exc:
            raise ValueError(str(exc)) from None


class MedicationLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    medication: Line
    change: MedicationChange
    detail: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=500), AfterValidator(_no_nul)
    ] = ""


class DischargeSummary(BaseModel):
    """What the hospital hands back: at least one diagnosis and a follow-up plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    diagnoses: tuple[Diagnosis, ...] = Field(min_length=1, max_length=50)
    medication_changes: tuple[MedicationLine, ...] = Field(default=(), max_length=100)
    follow_up: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
        AfterValidator(_no_nul),
    ] = Field(description="the follow-up plan: reviews, rounds, what to watch for")

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
