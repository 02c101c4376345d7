"""The audit log (administrators only): who read or changed which resident's data, when,
from where; newest first, with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from services.api.deps import AUTHENTICATED, BIGINT_MAX, Conn, Instant, Offset, PgText, require
from services.api.repos import audit as repo

router = APIRouter(
    prefix="/api/v1/audit",
    tags=["audit"],
    dependencies=[Depends(require("audit:read"))],
    responses=AUTHENTICATED,
)


class AuditEntry(BaseModel):
    audit_id: int
    at: datetime
    actor: str
    role: str
    action: str
    resource: str
    resident_id: int | None
    site_id: str | None
    method: str
    path: str
    client: str | None
    status: int


class AuditPage(BaseModel):
    items: list[AuditEntry]
    limit: int
    offset: int


@router.get("")
async def list_audit(
    conn: Conn,
    actor: PgText | None = None,
    resident: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    action: Annotated[PgText | None, Query(description="e.g. resident.read, alert.ack")] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> AuditPage:
    rows = await repo.list_entries(
        conn,
        actor=actor,
        resident=resident,
        action=action,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    items = [AuditEntry(**row) for row in rows]
    return AuditPage(items=items, limit=limit, offset=offset)
