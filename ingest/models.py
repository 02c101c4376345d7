"""Wire shapes of protocol v1 payload bodies (strict pydantic): field types only.

`ts`, `seq`, value ranges and string contents are checked by `ingest.codec`, which owns the
reject reasons; these models only say which JSON type each field must have.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from rules.fall_placement import Placement
from rules.vocabulary import DeviceEventType

# Strict: a JSON bool is not a number and 0/1 are not bools. Unknown fields are ignored so a
# newer device can talk to an older worker. `null` counts as absent for optional fields.
_WIRE = ConfigDict(strict=True, extra="ignore", frozen=True)

ShortStr = Annotated[str, StringConstraints(max_length=64)]


class VitalsBody(BaseModel):
    model_config = _WIRE

    hr: float | None = None
    spo2: float | None = None
    rr: float | None = None
    temp: float | None = None
    sbp: float | None = None
    dbp: float | None = None
    on_o2: bool | None = None


class BedBody(BaseModel):
    model_config = _WIRE

    occupied: bool | None = None
    hr: float | None = None
    rr: float | None = None
    movement: float | None = None


class MotionBody(BaseModel):
    model_config = _WIRE

    hz: float
    ax: list[float]
    ay: list[float]
    az: list[float]


class EventBody(BaseModel):
    model_config = _WIRE

    type: DeviceEventType
    zone: ShortStr | None = None
    confidence: float | None = None


class StatusBody(BaseModel):
    model_config = _WIRE

    battery: float | None = None
    online: bool | None = None
    rssi: float | None = None
    fw: ShortStr | None = None
    # Where the device is worn (or bed): the fall detector's settings depend on it.
    placement: Placement | None = None


# FHIR R4 Observation: only the elements the codec reads, named as in FHIR JSON.


class Coding(BaseModel):
    model_config = _WIRE

    system: str | None = None
    code: str | None = None


class CodeableConcept(BaseModel):
    model_config = _WIRE

    coding: list[Coding] = []


class Quantity(BaseModel):
    model_config = _WIRE

    value: float | None = None
    comparator: str | None = None
    unit: str | None = None
    system: str | None = None
    code: str | None = None


class ObservationComponent(BaseModel):
    model_config = _WIRE

    code: CodeableConcept
    valueQuantity: Quantity | None = None


class Observation(BaseModel):
    model_config = _WIRE

    resourceType: str
    status: str
    code: CodeableConcept
    effectiveDateTime: str | None = None
    valueQuantity: Quantity | None = None
    component: list[ObservationComponent] = []
