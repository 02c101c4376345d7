"""Logging in: the OAuth2 password flow for short-lived bearer tokens, refresh with rotation,
log-out; and who am I. Login attempts are throttled per account and client address, under a
higher ceiling per address (429), and an account is locked for a while after repeated
failures (the same 401 as a wrong password)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from services.api.deps import NO_NUL, Caller, Conn, Problem, errors, invalid
from services.auth.throttle import LoginThrottle
from services.auth.tokens import TokenSigner
from services.auth.users import (
    LoginError,
    authenticate,
    issue_refresh,
    revoke_refresh,
    rotate_refresh,
    session_of,
)

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


# The login is throttled per account and client address, and both it and the refresh under
# a higher ceiling per address.
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "description": "too many attempts for this account or from this address",
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
    }
}
# Refused credentials; a locked account is refused with the same answer as a wrong password.
REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "wrong, unknown, locked, expired or spent"}
}


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, no secret
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str = Field(description="single use: each refresh returns a new one")


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    username: str
    role: str
    site_id: str | None
    unit_ids: list[str]
    staff_id: str | None
    hospital_id: str | None
    resident_id: int | None = None  # a family login's one resident
    region_id: str | None = None  # a regulator's region


def _throttle(request: Request, account: str | None) -> None:
    """`account`: the username a login names; None for a refresh (the address's ceiling)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    client = request.client.host if request.client else "?"
    now = time.monotonic()
    if not throttle.allow(account, client, now):
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many login attempts; wait a minute",
            headers={"Retry-After": str(int(throttle.retry_after(account, client, now)) + 1)},
        )


def _pair(request: Request, principal_token: str, refresh: str) -> TokenPair:
    signer: TokenSigner = request.app.state.tokens
    return TokenPair(access_token=principal_token, expires_in=signer.ttl_s, refresh_token=refresh)


@router.post("/token", responses={**REFUSED, **THROTTLED, **errors(400)})
async def login(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], conn: Conn
) -> TokenPair:
    _throttle(request, form.username)
    if "\x00" in form.username:  # nobody's name, and PostgreSQL refuses it in a query
        raise invalid(["body", "username"], NO_NUL)
    now = datetime.now(UTC)
    # The transaction commits on failure too: the failed-login count must stick.
    async with conn.transaction():
        try:
            user_id, principal = await authenticate(conn, form.username, form.password, now=now)
        except LoginError as exc:
            failed: LoginError | None = exc
        else:
            failed = None
            refresh = await issue_refresh(conn, user_id, now=now)
            session = await session_of(conn, refresh)
    if failed is not None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(failed), headers={"WWW-Authenticate": "Bearer"}
        )
    signer: TokenSigner = request.app.state.tokens
    return _pair(request, signer.issue(principal, now=now, session_id=session), refresh)


@router.post("/refresh", responses={**REFUSED, **THROTTLED, **errors(400)})
async def refresh(request: Request, body: RefreshIn, conn: Conn) -> TokenPair:
    _throttle(request, None)
    now = datetime.now(UTC)
    # Commits on failure too: presenting a spent token revokes the user's other sessions.
    async with conn.transaction():
        try:
            _, principal, new = await rotate_refresh(conn, body.refresh_token, now=now)
            session = await session_of(conn, new)
        except LoginError as exc:
            failed: LoginError | None = exc
        else:
            failed = None
    if failed is not None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(failed))
    signer: TokenSigner = request.app.state.tokens
    return _pair(request, signer.issue(principal, now=now, session_id=session), new)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(400))
async def logout(body: RefreshIn, conn: Conn) -> Response:
    """Revoke the refresh token, ending its session: the live feeds opened with its access
    tokens end within seconds (the access token itself runs out within minutes)."""
    await revoke_refresh(conn, body.refresh_token, now=datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", responses=errors(401))
async def me(caller: Caller) -> Me:
    return Me(
        username=caller.username,
        role=caller.role,
        site_id=caller.site_id,
        unit_ids=sorted(caller.unit_ids),
        staff_id=caller.staff_id,
        hospital_id=caller.hospital_id,
        resident_id=caller.resident_id,
        region_id=caller.region_id,
    )
