"""Family beds: a resident's home-care details (emergency plan, special-needs categories) and
the family view, a read-only summary of one resident (latest vitals, alerts and how they
ended). A family login reaches only its own resident, and only while that resident's family
consent is given (services/api/deps.resident_in_scope); every read is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.api.deps import AUTHENTICATED, Conn, PgText, errors, require, resident_in_scope
from services.api.repos import home_care as repo
from services.auth import audit
from services.auth.principal import Principal
from services.readings import latest_vitals

router = APIRouter(prefix="/api/v1/residents", tags=["family care"], responses=AUTHENTICATED)

Summary = Annotated[Principal, Depends(require("residents:summary"))]
Reader = Annotated[Principal, Depends(require("residents:read"))]
Writer = Annotated[Principal, Depends(require("residents:write"))]

SiteKind = Literal["institution", "community_station", "family_bed"]
SpecialNeed = Literal["disabled", "aged_80_plus", "special_difficulty"]
# How far back the family view looks.
VITALS_WINDOW = timedelta(hours=24)
ALERTS_WINDOW = timedelta(days=30)
ALERTS_SHOWN = 50


class HomeCareIn(BaseModel):
    # What to do at home until help comes; "" clears it.
    emergency_plan: Annotated[PgText, Field(max_length=2000)] | None = None
    special_needs: list[SpecialNeed] | None = Field(default=None, max_length=3)


class HomeCareOut(BaseModel):
    display_name: str
    site_kind: SiteKind
    address: str | None
    emergency_plan: str | None
    special_needs: list[SpecialNeed]


class Latest(BaseModel):
    value: float
    ts: datetime
    source: str


class AlertSeen(BaseModel):
    alert_id: int
    rule_id: str
    title: str
    severity: str
    status: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    outcome: str | None = Field(description="actionable, already_attended, false_alarm")


class SummaryOut(BaseModel):
    resident_id: int
    display_name: str
    latest: dict[str, Latest] = Field(description="the newest value of each metric, last 24 h")
    alerts: list[AlertSeen] = Field(description="alerts of the last 30 days, newest first")


@router.get("/{resident_id}/summary", responses=errors(404))
async def summary(resident_id: int, conn: Conn, caller: Summary, request: Request) -> SummaryOut:
    """The family view of one resident: latest vitals, alerts and their outcomes."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    now = datetime.now(UTC)
    details = await repo.home_care(conn, resident_id=resident_id)
    latest = await latest_vitals(
        conn, resident_id, since=now - VITALS_WINDOW, until=now + timedelta(minutes=5)
    )
    alerts = await repo.recent_alerts(
        conn, resident_id=resident_id, since=now - ALERTS_WINDOW, limit=ALERTS_SHOWN
    )
    await audit.record(
        conn,
        request,
        caller,
        "resident.summary.read",
        f"resident/{resident_id}/summary",
        resident_id=resident_id,
        site_id=site_id,
    )
    return SummaryOut(
        resident_id=resident_id,
        display_name=details["display_name"],
        latest={m: Latest(value=v.value, ts=v.ts, source=v.source) for m, v in latest.items()},
        alerts=[AlertSeen(**a) for a in alerts],
    )


@router.get("/{resident_id}/home-care", responses=errors(404))
async def get_home_care(
    resident_id: int, conn: Conn, caller: Reader, request: Request
) -> HomeCareOut:
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    out = HomeCareOut(**await repo.home_care(conn, resident_id=resident_id))
    await audit.record(
        conn,
        request,
        caller,
        "resident.home_care.read",
        f"resident/{resident_id}/home-care",
        resident_id=resident_id,
        site_id=site_id,
    )
    return out


@router.put("/{resident_id}/home-care", responses=errors(400, 404))
async def set_home_care(
    resident_id: int, body: HomeCareIn, conn: Conn, caller: Writer, request: Request
) -> HomeCareOut:
    """Set the emergency plan and special-needs categories (what is left out stays)."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    needs = None if body.special_needs is None else sorted(set(body.special_needs))
    await repo.set_home_care(
        conn,
        resident_id=resident_id,
        emergency_plan=body.emergency_plan,
        special_needs=needs,
    )
    await audit.record(
        conn,
        request,
        caller,
        "resident.home_care",
        f"resident/{resident_id}/home-care",
        resident_id=resident_id,
        site_id=site_id,
    )
    return HomeCareOut(**await repo.home_care(conn, resident_id=resident_id))
