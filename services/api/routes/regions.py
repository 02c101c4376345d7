"""Regions (issue 18): make one, and put a site in one (or in none). A region spans sites and
decides what its regulators read, so only an administrator of every site manages them; the
command line does the same (`carewatch region add`, `carewatch site region`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, Field

from services.api.deps import AUTHENTICATED, PLACE_ID, Conn, PgText, errors, invalid, require
from services.auth import audit
from services.auth.principal import Principal
from services.careteam.store import current_team
from services.regions import (
    NoSuchRegion,
    NoSuchSite,
    RegionError,
    create_region,
    set_lead_hospital,
    set_site_region,
)

router = APIRouter(tags=["regions"], responses=AUTHENTICATED)

Manager = Annotated[Principal, Depends(require("users:manage"))]
RegionId = Annotated[str, Field(pattern=PLACE_ID)]


class RegionIn(BaseModel):
    region_id: RegionId
    name: Annotated[PgText, Field(min_length=1, max_length=200)]


class SiteRegionIn(BaseModel):
    region_id: RegionId | None = Field(description="the region; null: in no region")


class LeadHospitalIn(BaseModel):
    hospital_id: RegionId | None = Field(
        description="a hospital of the care team's document (`hospitals[].id`); null: none"
    )


class LeadHospitalOut(BaseModel):
    region_id: str
    hospital_id: str | None


class SiteRegionOut(BaseModel):
    site_id: str
    region_id: str | None


def _every_site(caller: Principal) -> None:
    if not caller.every_site:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "regions span sites: only an administrator of every site manages them",
        )


@router.post("/api/v1/regions", status_code=status.HTTP_201_CREATED, responses=errors(400, 409))
async def post_region(body: RegionIn, conn: Conn, caller: Manager, request: Request) -> RegionIn:
    """Make a region (a district over sites, read by its regulators)."""
    _every_site(caller)
    if not await create_region(conn, region_id=body.region_id, name=body.name.strip()):
        raise HTTPException(status.HTTP_409_CONFLICT, f"region {body.region_id!r} exists")
    await audit.record(conn, request, caller, "region.add", f"region/{body.region_id}")
    return body


@router.put("/api/v1/sites/{site_id}/region", responses=errors(400, 404))
async def put_site_region(
    site_id: Annotated[str, Path(pattern=PLACE_ID)],
    body: SiteRegionIn,
    conn: Conn,
    caller: Manager,
    request: Request,
) -> SiteRegionOut:
    """Put a site in a region, or (null) in none: its regulators read its figures from now."""
    _every_site(caller)
    try:
        await set_site_region(conn, site_id=site_id, region_id=body.region_id)
    except NoSuchSite as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except RegionError as exc:  # the region named does not exist
        raise invalid(["body", "region_id"], str(exc)) from None
    resource = f"site/{site_id}/region/{body.region_id}"
    await audit.record(conn, request, caller, "site.region", resource, site_id=site_id)
    return SiteRegionOut(site_id=site_id, region_id=body.region_id)


@router.put("/api/v1/regions/{region_id}/lead-hospital", responses=errors(400, 404))
async def put_lead_hospital(
    region_id: Annotated[str, Path(pattern=PLACE_ID)],
    body: LeadHospitalIn,
    conn: Conn,
    caller: Manager,
    request: Request,
) -> LeadHospitalOut:
    """Name the region's medical consortium lead hospital (or, null, none): the hospital at
    the head of its two-way referral, shown on the region's indicators."""
    _every_site(caller)
    _, team = await current_team(conn)
    known = frozenset(h.id for h in team.hospitals)
    try:
        await set_lead_hospital(
            conn, region_id=region_id, hospital_id=body.hospital_id, known=known
        )
    except NoSuchRegion as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except RegionError as exc:  # not one of the care team's hospitals
        raise invalid(["body", "hospital_id"], str(exc)) from None
    resource = f"region/{region_id}/lead-hospital/{body.hospital_id}"
    await audit.record(conn, request, caller, "region.lead_hospital", resource)
    return LeadHospitalOut(region_id=region_id, hospital_id=body.hospital_id)
