"""The audit log: who read or changed what resident data, when, from where, and what they
were refused. Routes record what they served (`record`); a refusal (403, 404) of a request
for resident data is recorded by the app's error handler (`record_refusal`), so no route can
forget one; opening the live feed is recorded with `record_own`."""

from __future__ import annotations

from typing import Final

from fastapi import Request
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from services.auth.principal import Principal

__all__ = ["REFUSED", "RESIDENT_DATA", "record", "record_own", "record_refusal"]

# Paths whose answers are resident data: a refusal on them is audited too.
RESIDENT_DATA: Final = ("/api/v1/residents", "/api/v1/alerts", "/api/v1/referrals")
REFUSED: Final = "access.refused"  # the action of a refusal's row
_AUDITED_STATUSES: Final = frozenset({403, 404})
_BIGINT_MAX: Final = 2**63 - 1


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
    request.state.audited = True


async def record_own(
    request: Request,
    principal: Principal,
    action: str,
    resource: str,
    *,
    resident_id: int | None = None,
    status: int = 200,
) -> None:
    """`record` on a connection of its own from the app's pool: for a route that holds none
    (the live feed) or whose own is gone (an error handler)."""
    pool: AsyncConnectionPool[AsyncConnection[TupleRow]] = request.app.state.pool
    async with pool.connection() as conn:
        await record(
            conn, request, principal, action, resource, resident_id=resident_id, status=status
        )


async def record_refusal(request: Request, status: int) -> None:
    """Record a refused request for resident data by a caller we know (a 401 has none)."""
    principal = getattr(request.state, "principal", None)
    if (
        status not in _AUDITED_STATUSES
        or not isinstance(principal, Principal)
        or getattr(request.state, "audited", False)
        or not request.url.path.startswith(RESIDENT_DATA)
    ):
        return
    raw = str(request.path_params.get("resident_id", ""))
    resident_id = int(raw) if raw.isdecimal() and int(raw) <= _BIGINT_MAX else None
    resource = request.url.path.removeprefix("/api/v1/")
    await record_own(request, principal, REFUSED, resource, resident_id=resident_id, status=status)
