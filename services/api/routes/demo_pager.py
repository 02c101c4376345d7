"""The demo ward's pager: a notification receiver inside the API, so `carewatch up` shows the
whole path from a device to a page someone reads without any outside service. The demo care
team's apprise URLs are `json://API/demo/pager/{staff}`; the last messages are listed at
`/demo/pager`. Registered only when CAREWATCH_DEMO_PAGER is set (by `carewatch up`): it takes
posts without a token, which only a local demo may do."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse

router = APIRouter(prefix="/demo/pager", include_in_schema=False)
KEEP = 200


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
        f"<h1>Demo pager</h1>{rows}</body></html>",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
