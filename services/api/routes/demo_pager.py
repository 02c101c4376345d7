"""The demo ward's pager: a notification receiver inside the API, so `carewatch up` shows the
whole path from a device to a page someone reads without any outside service. The demo care
team's apprise URLs are `json://API/demo/pager/{staff}`; the last messages are listed at
`/demo/pager`. Registered only when CAREWATCH_DEMO_PAGER is set (by `carewatch up` in local
mode; `create_app` refuses it otherwise): it takes posts without a token and shows live
acknowledgement links, so it answers only requests from this machine (loopback), and none
that came through a proxy."""

from __future__ import annotations

import ipaddress
import re
from collections import deque
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from services.alerts.messages import local_time
from services.api.deps import Conn, accepted_language
from services.careteam.store import current_team
from services.careteam.team import CareTeam
from services.catalogue import DEFAULT_LANGUAGE, text

KEEP = 200
LINK = re.compile(r"https?://[^\s<>\"']+")
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


def _linked(body: str) -> str:
    """The message with its links tappable: the acknowledgement link is how a page is answered."""
    return LINK.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', escape(body))


def _zone(team: CareTeam, staff_id: str) -> str:
    """The time zone of the site the person works at (their shifts say), else the team's."""
    site = next((s.site for s in team.shifts if s.staff == staff_id), None)
    return team.alerts.timezone_of(site) if site else team.alerts.default_timezone


@router.get("", response_class=HTMLResponse)
async def show(request: Request, conn: Conn) -> HTMLResponse:
    """The last pages, newest first, in the reader's language and each recipient's site time."""
    lang = accepted_language(request) or DEFAULT_LANGUAGE
    _, team = await current_team(conn)
    rows = (
        "".join(
            f"<article><h2>{escape(title)}</h2><p class=meta>"
            + escape(
                text(lang, "demo_pager.to", who=who, time=local_time(lang, at, _zone(team, who)))
            )
            + f"</p><pre>{_linked(body)}</pre></article>"
            for at, who, title, body in _inbox(request)
        )
        or f"<p>{escape(text(lang, 'demo_pager.none'))}</p>"
    )
    title = escape(text(lang, "demo_pager.title"))
    return HTMLResponse(
        f"<!doctype html><html lang={lang}><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<meta http-equiv=refresh content=5><title>{title} — CareWatch</title>"
        "<style>body{font:16px system-ui,sans-serif;margin:1em;max-width:40em;"
        "overflow-wrap:anywhere}pre{white-space:pre-wrap}.meta{color:#555}</style></head><body>"
        f"<h1>{title}</h1><p class=meta>{escape(text(lang, 'demo_pager.intro'))}</p>"
        f"{rows}</body></html>",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
