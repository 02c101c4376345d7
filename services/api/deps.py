"""Typed dependencies shared by the routers: the database, the broker, and who is calling.

Every route states the permission it needs (`Depends(require("alerts:read"))`); routes about
one resident also check the caller's scope (`resident_in_scope`). A bearer token is either an
access token from `/api/v1/auth/token` or the deployment's admin token (automation and the
first login: it acts as an administrator with no place limit).

Error answers are `{"detail": "..."}` (422s list the fields at fault, as FastAPI's own do);
`errors(...)` declares them in the OpenAPI description."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from pydantic import AfterValidator, AwareDatetime, BaseModel

from rules import vocabulary
from services.api.repos import family, residents
from services.auth.principal import Permission, Principal
from services.auth.tokens import TokenError, TokenSigner
from services.catalogue import Language
from services.devices.provisioning import BrokerAccounts

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
BOOTSTRAP_ADMIN = "bootstrap-admin"  # who the admin token acts as


class Problem(BaseModel):
    """An error answer: what is wrong, for a person to read."""

    detail: str


# What each error status means across the API; a route with more to say declares its own.
_MEANINGS: Final[dict[int, str]] = {
    400: "the body cannot be parsed (not UTF-8, or not the declared media type)",
    401: "no bearer token, or one that is not valid (malformed, expired, forged)",
    403: "the caller's role lacks the permission, or the resource is outside their scope",
    404: "no such resource",
    409: "the resource's current state does not allow this",
    413: "the request body is larger than this endpoint takes (services/api/limits.py)",
}


def invalid(loc: Sequence[str | int], message: str) -> HTTPException:
    """A 422 in the shape of FastAPI's own validation errors: where, and what is wrong."""
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": list(loc), "msg": message, "type": "value_error"}],
    )


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with a `Problem` body."""
    return {code: {"model": Problem, "description": _MEANINGS[code]} for code in codes}


# Every route behind `require(...)` may answer these.
AUTHENTICATED: Final = errors(401, 403, 413)

# Input checked against what the database takes before it is asked: a query PostgreSQL
# refuses is a 500, where the caller deserves a 422 naming the parameter.
BIGINT_MAX: Final = 2**63 - 1  # ids and OFFSET are bigints
Offset = Annotated[int, Query(ge=0, le=BIGINT_MAX, description="how many items to skip")]
PLACE_ID: Final = r"^[A-Za-z0-9_-]{1,64}$"  # site, unit and device ids (a CHECK in the schema)
# A device not heard from for this long is offline, on every page and list that shows one
# (docs/device-protocol.md, "When a device is offline").
OFFLINE_AFTER: Final = vocabulary.OFFLINE_AFTER  # the one constant, ingest's spans use it too
OfflineReason = Literal["disconnected", "silent", "retired"]
NO_NUL = "must not contain NUL characters (\\u0000)"


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NO_NUL)
    return value


# Text that is stored or looked up: PostgreSQL keeps no NUL character in text or jsonb.
PgText = Annotated[str, AfterValidator(_storable)]


def _representable(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range: a time between years 1 and 9999 in UTC") from None
    return value


# A point in time with its UTC offset, and one that is still a datetime in UTC: a time stored
# past 9999 (or before year 1) in UTC could not be read back.
Instant = Annotated[AwareDatetime, AfterValidator(_representable)]


def nul_at(document: object) -> list[str | int] | None:
    """Where in a JSON document a key or a string holds a NUL character; None: nowhere."""
    if isinstance(document, str):
        return [] if "\x00" in document else None
    if isinstance(document, dict):
        entries: list[tuple[str | int, object]] = [(str(k), v) for k, v in document.items()]
    elif isinstance(document, list):
        entries = list(enumerate(document))
    else:
        return None
    for key, value in entries:
        if isinstance(key, str) and "\x00" in key:
            return [key]
        found = nul_at(value)
        if found is not None:
            return [key, *found]
    return None


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


MISSING_TOKEN = "missing bearer token: log in at /api/v1/auth/token"  # noqa: S105 - a message


def principal_of(state: Any, token: str | None) -> Principal:
    """Who a bearer token (from `Authorization`) acts as; 401 if nobody. `state` is the app's:
    the body-size middleware asks this too, before a body is read."""
    if not token:
        raise _unauthorized(MISSING_TOKEN)
    expected: str = state.admin_token
    if hmac.compare_digest(token.encode(), expected.encode()):
        return Principal(BOOTSTRAP_ADMIN, "admin")
    signer: TokenSigner = state.tokens
    try:
        return signer.verify(token)
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None


def current_principal(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Principal:
    principal = principal_of(request.app.state, token)
    request.state.principal = principal  # for the audit row of a refusal (services/auth/audit)
    return principal


Caller = Annotated[Principal, Depends(current_principal)]


class Requirement:
    """A dependency: the caller, if their role grants `permission` (403 otherwise). A class,
    so the route table says which permission each route needs."""

    def __init__(self, permission: Permission) -> None:
        self.permission: Permission = permission

    async def __call__(self, principal: Caller) -> Principal:
        if not principal.can(self.permission):
            who = (
                f"a user of partner hospital {principal.hospital_id!r} acts only on referrals and"
                if principal.hospital_id is not None
                else f"a user with role {principal.role!r}"
            )
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"{who} may not do this ({self.permission})"
            )
        return principal

    def __repr__(self) -> str:
        return f"require({self.permission!r})"


def require(permission: Permission) -> Requirement:
    """A dependency: the caller, if their role grants `permission` (403 otherwise)."""
    return Requirement(permission)


Conn = Annotated[AsyncConnection[TupleRow], Depends(get_conn)]
Broker = Annotated[BrokerAccounts, Depends(get_broker)]


async def resident_in_scope(
    conn: AsyncConnection[TupleRow], principal: Principal, resident_id: int
) -> tuple[str, str]:
    """The resident's site and unit; 404 if there is no such resident, 403 if the caller may
    not see them. A family doctor sees their caseload, a family login its resident while the
    family consent is given (services/api/repos/family.py)."""
    place = await residents.place_of(conn, resident_id=resident_id)
    if place is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    site_id, unit_id = place
    if not principal.covers(site_id, unit_id) and not await family.reaches(
        conn, principal, resident_id=resident_id, now=datetime.now(UTC)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"resident {resident_id} is outside your scope"
        )
    return site_id, unit_id


def accepted_language(request: Request) -> Language | None:
    """The first language of `Accept-Language` this product speaks (any zh is zh-CN)."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return None
