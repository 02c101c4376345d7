"""Vitals trends: a resident's readings bucketed (min / avg / max / count per bucket), from raw
readings for short ranges and from the rollups for long ones (services/trends). Scoped to the
caller's residents and audited like every read of resident data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from services.api.deps import (
    AUTHENTICATED,
    Conn,
    Instant,
    errors,
    invalid,
    require,
    resident_in_scope,
)
from services.auth import audit
from services.auth.principal import Principal
from services.trends.errors import InvalidQuery
from services.trends.plan import MAX_POINTS, Bucket, Metric, Source, plan_query
from services.trends.queries import fetch_trend

router = APIRouter(prefix="/api/v1/residents", tags=["vitals"], responses=AUTHENTICATED)

DEFAULT_RANGE = timedelta(hours=24)


class PointOut(BaseModel):
    ts: datetime = Field(description="the bucket's start")
    min: float
    avg: float
    max: float
    count: int = Field(description="readings in the bucket")


class SeriesOut(BaseModel):
    metric: Metric
    points: list[PointOut] = Field(description="buckets holding readings, oldest first")


class SegmentOut(BaseModel):
    source: Source
    start: datetime
    end: datetime


class VitalsOut(BaseModel):
    resident_id: int
    metrics: list[Metric]
    bucket: Bucket
    start: datetime = Field(description="the requested start, down to a bucket boundary (UTC)")
    end: datetime = Field(description="the requested end, up to a bucket boundary (UTC)")
    source: Source = Field(
        description="raw readings (ranges up to 6 h) or the rollup the buckets are built from"
    )
    segments: list[SegmentOut] = Field(
        description="which source answered which part: minutes whose readings arrived since "
        "the last rollup refresh are answered from raw"
    )
    stale_from: datetime | None = Field(
        description="readings from here on that arrived since the last rollup refresh are not "
        "counted yet: set only for minutes over 6 h old (newer ones are read raw), i.e. a "
        "backfill the refresh (every minute) has not reached, or a refresh far behind"
    )
    series: list[SeriesOut]


@router.get("/{resident_id}/vitals", responses=errors(404))
async def get_vitals(
    resident_id: int,
    conn: Conn,
    caller: Annotated[Principal, Depends(require("residents:read"))],
    request: Request,
    metric: Annotated[list[Metric], Query(min_length=1, description="repeat for several")],
    start: Annotated[
        Instant | None, Query(description="with a UTC offset; default: 24 h before end")
    ] = None,
    end: Annotated[Instant | None, Query(description="with a UTC offset; default: now")] = None,
    bucket: Annotated[
        Bucket | None,
        Query(description=f"default: the finest giving at most 1000 points; max {MAX_POINTS}"),
    ] = None,
) -> VitalsOut:
    """Bucketed trends over up to 90 days. 422 names the parameter at fault; 404: no resident;
    403: a resident outside the caller's scope."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    out = await read_trend(conn, resident_id, metric, start, end, bucket)
    await audit.record(
        conn,
        request,
        caller,
        "vitals.read",
        f"resident/{resident_id}",
        resident_id=resident_id,
        site_id=site_id,
    )
    return out


async def read_trend(
    conn: Conn,
    resident_id: int,
    metric: list[Metric],
    start: datetime | None,
    end: datetime | None,
    bucket: Bucket | None,
) -> VitalsOut:
    """The trend asked for (the caller checked scope and audits): also a referral's
    receiving physician's (routes/referral_access.py)."""
    now = datetime.now(UTC)
    end = end or now
    try:
        start = start or end - DEFAULT_RANGE
    except OverflowError:  # an `end` at the very start of the calendar
        raise invalid(["query", "end"], "too early to look back from") from None
    try:
        plan = plan_query(metrics=metric, start=start, end=end, bucket=bucket)
    except InvalidQuery as exc:
        # The same shape as FastAPI's own validation errors, so clients read one format.
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["query", exc.field], "msg": exc.message, "type": "value_error"}],
        ) from exc
    trend = await fetch_trend(conn, resident_id=resident_id, plan=plan, now=now)
    if trend is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    return VitalsOut(
        resident_id=resident_id,
        metrics=list(plan.metrics),
        bucket=plan.bucket,
        start=plan.start,
        end=plan.end,
        source=plan.source,
        segments=[
            SegmentOut(source=s.source, start=s.start, end=s.end) for s in trend.sources.segments
        ],
        stale_from=trend.sources.stale_from,
        series=[
            SeriesOut(
                metric=m,
                points=[
                    PointOut(ts=p.ts, min=p.min, avg=p.avg, max=p.max, count=p.count)
                    for p in trend.series[m]
                ],
            )
            for m in plan.metrics
        ],
    )
