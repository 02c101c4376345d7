"""The caregivers' web pages: static HTML shells, ES modules, CSS and message catalogues from
`services/api/web/`, served as they are (no build step).

The pages hold no resident data: each page's module calls the API with the bearer token the
login page keeps in sessionStorage. Every response carries a strict Content-Security-Policy
(scripts only from this origin, no inline script or style) and refuses to be framed."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse, RedirectResponse, Response

router = APIRouter(tags=["web pages"], include_in_schema=False)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    # Revalidate every time: a deployment's new pages must never mix with cached old modules.
    "Cache-Control": "no-cache",
}


@cache
def _files() -> dict[str, tuple[Path, str]]:
    """Every servable file by its path under web/, with its ETag. Only files found here are
    ever served, so no request path can reach outside the directory."""
    found: dict[str, tuple[Path, str]] = {}
    for path in sorted(WEB_DIR.rglob("*")):
        if path.is_file() and path.suffix in MEDIA_TYPES:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
            found[path.relative_to(WEB_DIR).as_posix()] = (path, f'"{digest}"')
    return found


def _serve(name: str, request: Request) -> Response:
    entry = _files().get(name)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    path, etag = entry
    headers = {**SECURITY_HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/board", status_code=status.HTTP_303_SEE_OTHER)


@router.get("/login")
async def login_page(request: Request) -> Response:
    return _serve("login.html", request)


@router.get("/board")
async def board_page(request: Request) -> Response:
    """The alert board of a unit (`?site=S&unit=U`; default: the user's own)."""
    return _serve("board.html", request)


@router.get("/residents")
async def ward_page(request: Request) -> Response:
    """Every resident in scope with NEWS2 and open alerts (`?site=S&unit=U&sort=news2`)."""
    return _serve("ward.html", request)


@router.get("/handover")
async def handover_page(request: Request) -> Response:
    """The shift handover (`?site=S&unit=U`, `&from=&to=` or `&at=`); printable."""
    return _serve("handover.html", request)


@router.get("/checkin")
async def checkin_page(request: Request) -> Response:
    """Staff's daily health check-in from a phone; leads see who has not checked in."""
    return _serve("checkin.html", request)


@router.get("/indicators")
async def indicators_page(request: Request) -> Response:
    """A site's indicators over a range of days (`?site=S&from=&to=`), with CSV/Excel files."""
    return _serve("indicators.html", request)


@router.get("/residents/{resident_id}")
async def resident_page(resident_id: int, request: Request) -> Response:
    return _serve("resident.html", request)


@router.get("/referrals")
async def referrals_page(request: Request) -> Response:
    return _serve("referrals.html", request)


@router.get("/family")
async def family_page(request: Request) -> Response:
    """The family view of one resident (a family login's own; staff: `?resident=ID`)."""
    return _serve("family.html", request)


@router.get("/caseload")
async def caseload_page(request: Request) -> Response:
    """A family doctor's caseload across sites."""
    return _serve("caseload.html", request)


@router.get("/contracts")
async def contracts_page(request: Request) -> Response:
    """A site's family-doctor contracts and their coverage against the 80 % target."""
    return _serve("contracts.html", request)


@router.get("/devices")
async def devices_page(request: Request) -> Response:
    """Devices and their state, for integrators and administrators."""
    return _serve("devices.html", request)


@router.get("/admin")
async def admin_page(request: Request) -> Response:
    """Admission, profiles, device assignment and the care team, for administrators."""
    return _serve("admin.html", request)


@router.get("/web/{name:path}")
async def asset(name: str, request: Request) -> Response:
    """Modules, styles and message catalogues of the pages."""
    return _serve(name, request)
