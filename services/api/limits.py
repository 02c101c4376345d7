"""Request bodies are bounded before anything parses them, and a route that needs a bearer
token refuses a body without a valid one before reading it.

An ASGI middleware, outside FastAPI's body parsing: a declared `Content-Length` over the
route's limit is refused with 413 at once, and a body sent without one (chunked) is counted as
it streams in and cut off at the limit. The limit is per route (`BODY_LIMITS`), else
`DEFAULT_BODY_LIMIT`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fastapi import HTTPException
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.deps import current_principal, principal_of

__all__ = ["BODY_LIMITS", "DEFAULT_BODY_LIMIT", "BodyLimit", "BodyTooLarge"]

KIB: Final = 1024
MIB: Final = 1024 * KIB
DEFAULT_BODY_LIMIT: Final = 64 * KIB
# Routes that take more than the default, and why.
BODY_LIMITS: Final[Mapping[tuple[str, str], int]] = {
    # The whole care team document: staff, shifts and contacts of every site.
    ("PUT", "/api/v1/care-team"): 2 * MIB,
}


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit: FastAPI passes an
    HTTPException met while reading the body through, so the caller gets this 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: this endpoint takes at most {limit} bytes")


def _needs_token(dependant: Dependant) -> bool:
    pending = list(dependant.dependencies)
    while pending:
        sub = pending.pop()
        if sub.call is current_principal:
            return True
        pending += sub.dependencies
    return False


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[int, tuple[int, bool]] = {}

    def _rules(self, route: BaseRoute) -> tuple[int, bool]:
        """The route's body limit and whether it needs a bearer token (cached per route)."""
        found = self._routes.get(id(route))
        if found is None:
            if isinstance(route, APIRoute):
                limits = [BODY_LIMITS.get((m, route.path_format)) for m in route.methods or ()]
                limit = max((n for n in limits if n is not None), default=DEFAULT_BODY_LIMIT)
                found = (limit, _needs_token(route.dependant))
            else:
                found = (DEFAULT_BODY_LIMIT, False)
            self._routes[id(route)] = found
        return found

    def _route_of(self, scope: Scope) -> BaseRoute | None:
        for route in scope["app"].router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route  # type: ignore[no-any-return]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self._route_of(scope)
        limit, needs_token = (DEFAULT_BODY_LIMIT, False) if route is None else self._rules(route)
        headers = Request(scope).headers
        declared = headers.get("content-length")
        if declared is not None and declared.isdecimal() and int(declared) > limit:
            await _refuse(BodyTooLarge(limit), scope, receive, send)
            return
        has_body = (declared is not None and declared != "0") or "transfer-encoding" in headers
        if has_body and needs_token:
            try:
                principal_of(scope["app"].state, _bearer(headers.get("authorization")))
            except HTTPException as exc:
                await _refuse(exc, scope, receive, send)
                return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def _refuse(exc: HTTPException, scope: Scope, receive: Receive, send: Send) -> None:
    headers: dict[str, Any] = dict(exc.headers or {})
    # The body stays unread: the server closes the connection after answering.
    headers["Connection"] = "close"
    response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
    await response(scope, receive, send)
