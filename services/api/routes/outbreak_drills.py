"""Outbreak drills (`POST /api/v1/outbreaks/drills`): the whole flow on made-up cases. A case
file marked as a drill opens for a unit with as many cases as the syndrome's rule needs, its
cluster page goes out through the alert service marked 演练/DRILL, it escalates if left
unreported like any file, and the lead closes it the same way (docs/detection.md, "Drills")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from rules.outbreak import RULE_ID as FEVER_RULE
from rules.outbreak import OutbreakConfig
from rules.outbreak_syndromes import SyndromesConfig, rule_id
from services.api.deps import AUTHENTICATED, PLACE_ID, Conn, errors, invalid, require
from services.api.repos import outbreaks as repo
from services.api.routes.outbreaks import OutbreakOut
from services.auth import audit
from services.auth.principal import Principal

router = APIRouter(prefix="/api/v1/outbreaks", tags=["outbreaks"], responses=AUTHENTICATED)

Lead = Annotated[Principal, Depends(require("outbreaks:report"))]
DrillSyndrome = Literal["gastrointestinal", "respiratory", "fever"]
# The signs each made-up case shows: one set of the syndrome's case definition.
SIGNS: Final[dict[str, list[str]]] = {
    "gastrointestinal": ["vomiting"],
    "respiratory": ["cough", "fever"],
    "fever": ["fever"],
}
NAMES: Final = {
    "gastrointestinal": "Gastrointestinal illness",
    "respiratory": "Respiratory illness",
    "fever": "Fever",
}


class Drill(BaseModel):
    unit_id: str = Field(pattern=PLACE_ID)
    site_id: str | None = Field(default=None, pattern=PLACE_ID, description="default yours")
    syndrome: DrillSyndrome = "gastrointestinal"


def _rule(syndrome: str) -> tuple[str, int, float]:
    """The rule id, case count and window (hours) of the syndrome's default rule."""
    if syndrome == "fever":
        fever = OutbreakConfig()
        return FEVER_RULE, fever.min_residents, fever.window_s / 3600
    config = SyndromesConfig().gastrointestinal
    if syndrome == "respiratory":
        config = SyndromesConfig().respiratory
    return rule_id(syndrome), config.min_cases, config.window_s / 3600


@router.post("/drills", status_code=status.HTTP_201_CREATED, responses=errors(400, 403, 404, 409))
async def start_drill(body: Drill, conn: Conn, caller: Lead, request: Request) -> OutbreakOut:
    """Open a drill's case file for a unit and page it, marked as a drill."""
    site = body.site_id or caller.site_id
    if site is None:
        raise invalid(["body", "site_id"], "which site?")
    if not await repo.unit_exists(conn, site_id=site, unit_id=body.unit_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no unit {site}/{body.unit_id}")
    if not caller.covers(site, body.unit_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "that unit is outside your scope")
    now = datetime.now(UTC)
    try:
        outbreak_id = await _open_and_page(conn, caller, request, body, site, now)
    except repo.DrillAlreadyOpen:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "a drill of this unit and syndrome is open already"
        ) from None
    row = await repo.get_outbreak(conn, outbreak_id=outbreak_id)
    assert row is not None
    return OutbreakOut(**row)


async def _open_and_page(
    conn: Conn, caller: Principal, request: Request, body: Drill, site: str, now: datetime
) -> int:
    rid, count, hours = _rule(body.syndrome)
    async with conn.transaction():
        outbreak_id = await repo.open_drill(
            conn,
            site_id=site,
            unit_id=body.unit_id,
            syndrome=body.syndrome,
            rule_id=rid,
            signs=SIGNS[body.syndrome],
            cases=count,
            now=now,
        )
        await repo.page_drill(
            conn,
            outbreak_id=outbreak_id,
            title=f"Drill: {NAMES[body.syndrome]} cluster: {count} cases in unit"
            f" {body.unit_id} within {hours:g} h",
            figures={
                "syndrome": body.syndrome,
                "count": count,
                "residents": count,
                "staff": 0,
                "window_h": hours,
            },
        )
        await audit.record(
            conn,
            request,
            caller,
            "outbreak.drill",
            f"outbreak/{outbreak_id}",
            site_id=site,
            status=201,
        )
    return outbreak_id
