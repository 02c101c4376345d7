"""The demo ward's pager: a notification receiver inside the API, so `carewatch up` shows the
whole path from a device to a page someone reads without any outside service. The demo care
team's apprise URLs are `json://API/demo/pager/{staff}`; the last messages are listed at
`/demo/pager`. Registered only when CAREWATCH_DEMO_PAGER is set (by `carewatch up` in local
mode; `create_app` refuses it otherwise): it takes posts without a token and shows live
acknowledgement links, so it answers only requests from this machine (loopback), and none
that came through a proxy."""

from __future__ import annotations

import ipaddress
from collections import deque
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse

KEEP = 200
_FORWARDED = ("x-forwarded-for", "forwarded", "x-real-ip")


def _loopback_only(request: Request) -> None:
    """403 unless the connection comes from this machine and not through a proxy."""
    host = request.client.host if request.client else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local or any(h in request.headers for h in _FORWARDED):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the demo pager answers only on this machine (loopback), never through a proxy",
        )


router = APIRouter(
    prefix="/demo/pager", include_in_schema=False, dependencies=[Depends(_loopback_only)]
)


def _inbox(request: Request) -> deque[tuple[datetime, str, str, str]]:
    inbox: deque[tuple[datetime, str, str, str]] = request.app.state.__dict__.setdefault(
        "demo_pager", deque(maxlen=KEEP)
    )
    return inbox


@router.post("/{staff_id}", status_code=204)
async def receive(
    staff_id: str, request: Request, message: Annotated[dict[str, Any], Body()]
) -> None:
    _inbox(request).appendleft(
        (
            datetime.now(UTC),
            staff_id[:64],
            str(message.get("title", ""))[:500],
            str(message.get("message", ""))[:4000],
        )
    )


@router.get("", response_class=HTMLResponse)
async def show(request: Request) -> HTMLResponse:
    rows = (
        "".join(
            f"<article><h2>{escape(title)}</h2><p class=meta>to {escape(who)} at "
            f"{at:%H:%M:%S} UTC</p><pre>{escape(body)}</pre></article>"
            for at, who, title, body in _inbox(request)
        )
        or "<p>No pages yet.</p>"
    )
    return HTMLResponse(
        "<!doctype html><html><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        "<meta http-equiv=refresh content=5><title>Demo pager — CareWatch</title>"
        "<style>body{font:16px system-ui,sans-serif;margin:1em;max-width:40em}"
        "pre{white-space:pre-wrap}.meta{color:#555}</style></head><body>"
        "<h1>Demo pager</h1><p class=meta>Local demo only: this page answers only on this"
        " machine (loopback) and is off outside <code>carewatch up</code>.</p>"
        f"{rows}</body></html>",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
