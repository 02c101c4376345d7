"""The audit log (administrators only): who read or changed which resident's data, when,
from where; newest first, with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from services.api.deps import AUTHENTICATED, BIGINT_MAX, Conn, Instant, Offset, PgText, require

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


_COLUMNS = (
    "audit_id, at, actor, role, action, resource, resident_id, site_id, method, path, client,"
    " status"
)


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
    where: list[str] = ["true"]
    args: list[object] = []
    for clause, value in (
        ("actor = %s", actor),
        ("resident_id = %s", resident),
        ("action = %s", action),
        ("at >= %s", since),
        ("at < %s", until),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)}"  # noqa: S608 - fixed parts
        " ORDER BY audit_id DESC LIMIT %s OFFSET %s",
        [*args, limit, offset],
    )
    names = _COLUMNS.replace(" ", "").split(",")
    items = [AuditEntry(**dict(zip(names, row, strict=True))) for row in await cur.fetchall()]
    return AuditPage(items=items, limit=limit, offset=offset)
