"""NEWS2 as the pages show it: one resident's score with its parts (served by the residents
routes) and the unit's residents at a glance for the board (`GET /api/v1/news2`): the band
the parameters present prove, what is missing, and when observations are due (RCP 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from rules.news2 import News2Result, compute_news2
from services.api.deps import AUTHENTICATED, PLACE_ID, Conn, Offset, require
from services.api.repos import news2 as repo
from services.auth import audit
from services.auth.principal import Principal
from services.readings import news2_lookback
from services.resident_rules import effective_rules

router = APIRouter(prefix="/api/v1/news2", tags=["residents"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("residents:read"))]

# As far back as the resident page looks for a current value; a later reading is a device
# clock a little ahead.
AHEAD = timedelta(minutes=5)


class News2Part(BaseModel):
    parameter: str
    score: int
    value: float | None
    source: str | None
    ts: datetime | None


class ObservationsOut(BaseModel):
    level: Literal["zero", "low", "low_medium", "medium", "high"] = Field(
        description="RCP 2017 monitoring level: aggregate 0, 1-4, a single 3, 5-6, >= 7"
    )
    every_s: float = Field(description="how often observations are due at this level")
    status: Literal["ok", "due", "overdue"] = Field(
        description="overdue: a parameter is missing or a manual value no longer counts"
    )
    due_at: datetime | None = Field(description="when the next manual value falls due")
    parameters: list[str] = Field(description="the parameters due or overdue now")


class News2Out(BaseModel):
    resident_id: int
    at: datetime
    scale: int
    complete: bool = Field(description="false: a parameter is missing or stale; no total then")
    total: int | None
    band: str | None = Field(description="low, low_medium (a single 3), medium, high")
    partial_total: int = Field(description="the sum over the parameters present: a lower bound")
    proven_band: str | None = Field(
        description="the band the evidence already proves (the band when complete); null "
        "when it proves nothing above low"
    )
    proven_total: int = Field(
        description="the total it rests on (the total when complete): a lower bound over every "
        "value within its max_age_s, rounds overdue for the current risk included"
    )
    parts: list[News2Part]
    missing: list[str]
    assumptions: list[str]
    observations: ObservationsOut


class News2Summary(BaseModel):
    resident_id: int
    at: datetime
    complete: bool
    total: int | None
    partial_total: int
    band: str | None
    proven_band: str | None
    proven_total: int
    missing: list[str]
    observations: ObservationsOut


class News2Page(BaseModel):
    items: list[News2Summary]
    limit: int
    offset: int


def _observations(result: News2Result) -> ObservationsOut:
    due = result.observations
    assert due is not None  # compute_news2 always says
    return ObservationsOut(
        level=due.level,
        every_s=due.every_s,
        status=due.status,
        due_at=due.due_at,
        parameters=list(due.parameters),
    )


def news2_out(resident_id: int, result: News2Result) -> News2Out:
    return News2Out(
        resident_id=resident_id,
        at=result.at,
        scale=result.scale,
        complete=result.complete,
        total=result.total,
        band=result.band,
        partial_total=result.partial_total,
        proven_band=result.proven_band,
        proven_total=result.proven_total,
        parts=[
            News2Part(
                parameter=s.parameter,
                score=s.score,
                value=None if s.reading is None else s.reading.value,
                source=None if s.reading is None else s.reading.source,
                ts=None if s.reading is None else s.reading.ts,
            )
            for s in result.sub_scores
        ],
        missing=list(result.missing),
        assumptions=list(result.assumptions),
        observations=_observations(result),
    )


async def summaries(
    conn: repo.Conn, rows: Sequence[tuple[int, repo.Scale, Any, Any]], now: datetime
) -> dict[int, News2Summary]:
    """NEWS2 now of each resident of `rows` (resident id, NEWS2 scale, the site's and the
    resident's own rule overrides), by resident id: for the board, the ward list, handovers."""
    ids = [int(row[0]) for row in rows]
    configs = {
        int(rid): effective_rules(site_overrides, own_overrides, resident_id=rid)
        for rid, _, site_overrides, own_overrides in rows
    }
    # As far back as any of them lets a reading count (the detector's and the API's rule).
    lookback = max((news2_lookback(c.news2) for c in configs.values()), default=timedelta(0))
    latest = await repo.latest_parameters(
        conn, residents=ids, since=now - lookback, until=now + AHEAD
    )
    alerts = await repo.open_alert_bands(conn, ids)
    found: dict[int, News2Summary] = {}
    for resident_id, scale, _, _ in rows:
        result = compute_news2(
            latest.get(resident_id, {}),
            scale=scale,
            now=now,
            config=configs[int(resident_id)].news2,
            level_at_least=alerts.get(resident_id),
        )
        found[int(resident_id)] = News2Summary(
            resident_id=resident_id,
            at=result.at,
            complete=result.complete,
            total=result.total,
            partial_total=result.partial_total,
            band=result.band,
            proven_band=result.proven_band,
            proven_total=result.proven_total,
            missing=list(result.missing),
            observations=_observations(result),
        )
    return found


@router.get("")
async def unit_news2(
    conn: Conn,
    caller: Reader,
    request: Request,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> News2Page:
    """NEWS2 now of each resident in the caller's scope (by unit, room and bed): the band the
    parameters present prove, what is missing, and whether observations are due."""
    scope = caller.place_sql("r.site_id", "r.unit_id", site, unit)
    rows = await repo.settings_page(conn, scope=scope, limit=limit, offset=offset)
    found = await summaries(conn, rows, datetime.now(UTC))
    items = [found[int(row[0])] for row in rows]
    await audit.record(conn, request, caller, "news2.list", "residents", site_id=site)
    return News2Page(items=items, limit=limit, offset=offset)
