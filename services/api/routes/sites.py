"""A site's kind: institution (a nursing home), community station, or family bed (residents at
home, whose pages and resident page carry the home address, the emergency plan and the 120
guidance). Set by whoever runs the deployment's care team."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel

from services.api.deps import AUTHENTICATED, Conn, errors, require
from services.api.repos import sites as repo
from services.auth import audit
from services.auth.principal import Principal

router = APIRouter(prefix="/api/v1/sites", tags=["sites"], responses=AUTHENTICATED)

Manager = Annotated[Principal, Depends(require("care_team:write"))]
SiteKind = Literal["institution", "community_station", "family_bed"]


class SiteKindIn(BaseModel):
    kind: SiteKind


class SiteOut(BaseModel):
    site_id: str
    name: str
    kind: SiteKind


@router.put("/{site_id}/kind", responses=errors(400, 404))
async def set_site_kind(
    site_id: str, body: SiteKindIn, conn: Conn, caller: Manager, request: Request
) -> SiteOut:
    if not caller.covers(site_id, None):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"site {site_id!r} is outside your scope")
    row = await repo.set_kind(conn, site_id=site_id, kind=body.kind)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id!r}")
    await audit.record(
        conn, request, caller, "site.kind", f"site/{site_id}/kind/{body.kind}", site_id=site_id
    )
    return SiteOut(site_id=row[0], name=row[1], kind=body.kind)
