"""Request bodies are bounded before anything parses them, and a route that needs a bearer
token refuses a body without a valid one before reading it.

An ASGI middleware, outside FastAPI's body parsing: a declared `Content-Length` over the
route's limit is refused with 413 at once, and a body sent without one (chunked) is counted as
it streams in and cut off at the limit. The limit is per route (`BODY_LIMITS`), else
`DEFAULT_BODY_LIMIT`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from fastapi import HTTPException
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import compile_path
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


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    limit: int
    needs_token: bool


def _rules(app: Any) -> list[_Rule]:
    """Each API route's path pattern, body limit and whether it needs a bearer token."""
    rules = []
    for ctx in iter_route_contexts(app.routes):
        if not isinstance(ctx.original_route, APIRoute) or ctx.path is None:
            continue
        methods = frozenset(ctx.methods or ())
        limits = [BODY_LIMITS.get((m, ctx.path)) for m in methods]
        limit = max((n for n in limits if n is not None), default=DEFAULT_BODY_LIMIT)
        pattern, _, _ = compile_path(ctx.path)
        rules.append(_Rule(pattern, methods, limit, _needs_token(ctx.dependant)))
    return rules


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: list[_Rule] | None = None

    def _rule_of(self, scope: Scope) -> tuple[int, bool]:
        if self._table is None:  # the app's routes are all there by the first request
            self._table = _rules(scope["app"])
        for rule in self._table:
            if scope["method"] in rule.methods and rule.pattern.match(scope["path"]):
                return rule.limit, rule.needs_token
        return DEFAULT_BODY_LIMIT, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, needs_token = self._rule_of(scope)
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
