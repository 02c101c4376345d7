"""Isolation and cohort flags (`/api/v1/isolation-flags`): a resident in isolation, or a unit
(or a resident) cohorted during an outbreak. Set and cleared by a nurse or physician, each
change audited; the board and the ward views show the flags in force."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from services.api.deps import (
    AUTHENTICATED,
    PLACE_ID,
    Conn,
    PgText,
    errors,
    invalid,
    require,
    resident_in_scope,
)
from services.api.repos import isolation as repo
from services.api.repos import outbreaks as outbreak_repo
from services.auth import audit
from services.auth.principal import Principal

router = APIRouter(prefix="/api/v1/isolation-flags", tags=["outbreaks"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("residents:read"))]
Setter = Annotated[Principal, Depends(require("residents:write"))]
Kind = Literal["isolation", "cohort"]


class FlagIn(BaseModel):
    """A resident's flag (`resident_id`), or a unit's (`unit_id`, and `site_id` if not yours)."""

    kind: Kind
    reason: Annotated[PgText, Field(min_length=1, max_length=200)]
    resident_id: int | None = Field(default=None, ge=1)
    unit_id: str | None = Field(default=None, pattern=PLACE_ID)
    site_id: str | None = Field(default=None, pattern=PLACE_ID)


class FlagOut(BaseModel):
    flag_id: int
    site_id: str
    unit_id: str
    resident_id: int | None = Field(description="None: the whole unit")
    resident_name: str | None
    kind: Kind
    reason: str
    set_by: str
    set_at: datetime
    cleared_by: str | None
    cleared_at: datetime | None


class FlagList(BaseModel):
    items: list[FlagOut]


@router.get("")
async def list_flags(
    conn: Conn,
    caller: Reader,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
) -> FlagList:
    """Flags in force in the caller's scope (narrowed to `site`, `unit`)."""
    rows = await repo.active(conn, place=caller.place_sql("f.site_id", "f.unit_id", site, unit))
    return FlagList(items=[FlagOut(**r) for r in rows])


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 403, 404, 409))
async def set_flag(body: FlagIn, conn: Conn, caller: Setter, request: Request) -> FlagOut:
    if body.resident_id is not None:
        site, unit = await resident_in_scope(conn, caller, body.resident_id)
    elif body.unit_id is not None:
        site, unit = body.site_id or caller.site_id or "", body.unit_id
        if not await outbreak_repo.unit_exists(conn, site_id=site, unit_id=unit):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no unit {site}/{unit}")
        if not caller.covers(site, unit):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "that unit is outside your scope")
    else:
        raise invalid(["body", "resident_id"], "flag a resident or a unit")
    async with conn.transaction():
        flag_id = await repo.set_flag(
            conn,
            site_id=site,
            unit_id=unit,
            resident_id=body.resident_id,
            kind=body.kind,
            reason=body.reason,
            by=caller.actor,
            now=datetime.now(UTC),
        )
        if flag_id is None:
            raise HTTPException(status.HTTP_409_CONFLICT, f"a {body.kind} flag is set already")
        await audit.record(
            conn,
            request,
            caller,
            f"isolation.set.{body.kind}",
            f"isolation/{flag_id}",
            resident_id=body.resident_id,
            site_id=site,
            status=201,
        )
    row = await repo.get(conn, flag_id=flag_id)
    assert row is not None
    return FlagOut(**row)


@router.post("/{flag_id}/clear", responses=errors(400, 403, 404, 409))
async def clear_flag(flag_id: int, conn: Conn, caller: Setter, request: Request) -> FlagOut:
    row = await repo.get(conn, flag_id=flag_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no flag {flag_id}")
    if not caller.covers(row["site_id"], row["unit_id"]):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"flag {flag_id} is outside your scope")
    async with conn.transaction():
        if not await repo.clear(conn, flag_id=flag_id, by=caller.actor, now=datetime.now(UTC)):
            raise HTTPException(status.HTTP_409_CONFLICT, f"flag {flag_id} is cleared already")
        await audit.record(
            conn,
            request,
            caller,
            f"isolation.clear.{row['kind']}",
            f"isolation/{flag_id}",
            resident_id=row["resident_id"],
            site_id=row["site_id"],
        )
    cleared = await repo.get(conn, flag_id=flag_id)
    assert cleared is not None
    return FlagOut(**cleared)
