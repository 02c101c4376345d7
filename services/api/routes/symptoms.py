"""Symptoms charted on a round (`POST /api/v1/residents/{id}/symptoms`): cough, sore throat,
vomiting, diarrhoea, rash, new confusion. Stored in order for the detector, which counts them
into the unit's syndromic clusters within a tick (docs/detection.md, "Outbreaks")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from rules.vocabulary import Symptom
from services.api.deps import (
    AUTHENTICATED,
    Conn,
    Instant,
    errors,
    invalid,
    require,
    resident_in_scope,
)
from services.api.repos import outbreaks as repo
from services.api.routes.residents import MAX_OBSERVATION_AGE
from services.auth import audit
from services.auth.principal import Principal

router = APIRouter(prefix="/api/v1/residents", tags=["residents"], responses=AUTHENTICATED)

Observer = Annotated[Principal, Depends(require("observations:write"))]


class Symptoms(BaseModel):
    """The symptoms a round found (at least one; none found is not charted here)."""

    symptoms: list[Symptom] = Field(min_length=1, max_length=6)
    ts: Instant | None = Field(default=None, description="when observed; default now")


class SymptomsOut(BaseModel):
    id: int
    resident_id: int
    symptoms: list[Symptom]
    ts: datetime


@router.post(
    "/{resident_id}/symptoms", status_code=status.HTTP_201_CREATED, responses=errors(400, 404)
)
async def record_symptoms(
    resident_id: int, body: Symptoms, conn: Conn, caller: Observer, request: Request
) -> SymptomsOut:
    """Symptoms from a round; the detector takes them into the unit's outbreak rules."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    now = datetime.now(UTC)
    ts = body.ts or now
    if ts > now + timedelta(minutes=5):
        raise invalid(["body", "ts"], "an observation cannot be in the future")
    if ts < now - MAX_OBSERVATION_AGE:
        raise invalid(
            ["body", "ts"],
            f"an observation cannot be more than {MAX_OBSERVATION_AGE.days} days old",
        )
    symptoms = sorted(set(body.symptoms))
    async with conn.transaction():
        row_id = await repo.record_symptoms(
            conn, resident_id=resident_id, symptoms=symptoms, ts=ts, recorded_by=caller.actor
        )
        await audit.record(
            conn,
            request,
            caller,
            "symptoms.create",
            f"resident/{resident_id}",
            resident_id=resident_id,
            site_id=site_id,
            status=201,
        )
    return SymptomsOut(id=row_id, resident_id=resident_id, symptoms=symptoms, ts=ts)
