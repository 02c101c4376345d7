"""Typed dependencies shared by the routers: the database, the broker, and who is calling.

Every route states the permission it needs (`Depends(require("alerts:read"))`); routes about
one resident also check the caller's scope (`resident_in_scope`). A bearer token is either an
access token from `/api/v1/auth/token` or the deployment's admin token (automation and the
first login: it acts as an administrator with no place limit)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from services.auth.principal import Permission, Principal
from services.auth.tokens import TokenError, TokenSigner
from services.devices.provisioning import BrokerAccounts

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
BOOTSTRAP_ADMIN = "bootstrap-admin"  # who the admin token acts as


def get_pool(request: Request) -> AsyncConnectionPool[AsyncConnection[TupleRow]]:
    pool: AsyncConnectionPool[AsyncConnection[TupleRow]] = request.app.state.pool
    return pool


async def get_conn(request: Request) -> AsyncIterator[AsyncConnection[TupleRow]]:
    async with get_pool(request).connection() as conn:
        yield conn


def get_broker(request: Request) -> BrokerAccounts:
    broker: BrokerAccounts = request.app.state.broker
    return broker


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def current_principal(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    if not token:
        raise _unauthorized("missing bearer token: log in at /api/v1/auth/token")
    expected: str = request.app.state.admin_token
    if hmac.compare_digest(token.encode(), expected.encode()):
        return Principal(BOOTSTRAP_ADMIN, "admin")
    signer: TokenSigner = request.app.state.tokens
    try:
        return signer.verify(token)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None


Caller = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the caller, if their role grants `permission` (403 otherwise)."""

    async def check(principal: Caller) -> Principal:
        if not principal.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a user with role {principal.role!r} may not do this ({permission})",
            )
        return principal

    check.__name__ = f"require_{permission.replace(':', '_')}"
    return check


require_admin = require("users:manage")

Conn = Annotated[AsyncConnection[TupleRow], Depends(get_conn)]
Broker = Annotated[BrokerAccounts, Depends(get_broker)]


async def resident_in_scope(
    conn: AsyncConnection[TupleRow], principal: Principal, resident_id: int
) -> tuple[str, str]:
    """The resident's site and unit; 404 if there is no such resident, 403 if the caller may
    not see them (asked in that order only for callers who may see some resident at all)."""
    cur = await conn.execute(
        "SELECT site_id, unit_id FROM residents WHERE resident_id = %s", [resident_id]
    )
    row = await cur.fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    site_id, unit_id = str(row[0]), str(row[1])
    if not principal.covers(site_id, unit_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"resident {resident_id} is outside your scope"
        )
    return site_id, unit_id
