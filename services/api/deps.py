"""Typed dependencies shared by the routers."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from services.devices.provisioning import BrokerAccounts

bearer = HTTPBearer(auto_error=False)


def get_pool(request: Request) -> AsyncConnectionPool[AsyncConnection[TupleRow]]:
    pool: AsyncConnectionPool[AsyncConnection[TupleRow]] = request.app.state.pool
    return pool


async def get_conn(request: Request) -> AsyncIterator[AsyncConnection[TupleRow]]:
    async with get_pool(request).connection() as conn:
        yield conn


def get_broker(request: Request) -> BrokerAccounts:
    broker: BrokerAccounts = request.app.state.broker
    return broker


def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """The admin bearer token (user accounts and roles replace this with OAuth2 later)."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected: str = request.app.state.admin_token
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token may not do that")


Conn = Annotated[AsyncConnection[TupleRow], Depends(get_conn)]
Broker = Annotated[BrokerAccounts, Depends(get_broker)]
