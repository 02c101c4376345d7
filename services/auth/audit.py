"""The audit log: who read or changed what resident data, when, from where."""

from __future__ import annotations

from fastapi import Request
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.auth.principal import Principal

__all__ = ["record"]


async def record(
    conn: AsyncConnection[TupleRow],
    request: Request,
    principal: Principal,
    action: str,
    resource: str,
    *,
    resident_id: int | None = None,
    site_id: str | None = None,
    status: int = 200,
) -> None:
    client = request.client.host if request.client else None
    await conn.execute(
        "INSERT INTO audit_log (actor, role, action, resource, resident_id, site_id, method,"
        " path, client, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            principal.username,
            principal.role,
            action,
            resource,
            resident_id,
            site_id,
            request.method,
            request.url.path,  # never the query string: it is where tokens end up
            client,
            status,
        ],
    )
