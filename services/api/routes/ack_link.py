"""The one-time acknowledgement link from a page: works from a phone without logging in.

GET shows the alert and one button; only the POST acknowledges. Messaging apps open links to
build previews, and a preview must not acknowledge a fall nobody has looked at. The token is
signed (who, which alert, when) and single-use (`ack_links.used_at`); it can acknowledge its
own alert and nothing else."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.alerts.commands import submit
from services.alerts.links import LinkError, LinkSigner
from services.api.deps import Conn

router = APIRouter(tags=["acknowledgement links"], include_in_schema=False)

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} — CareWatch</title>
<style>
body {{ font: 18px/1.4 system-ui, sans-serif; margin: 1.2em; max-width: 32em; }}
button {{ font-size: 1.3em; padding: .8em 1.2em; width: 100%; border-radius: .4em;
  background: #b00020; color: #fff; border: 0; }}
.muted {{ color: #555; }}
</style></head><body>{body}</body></html>"""
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _signer(request: Request) -> LinkSigner:
    signer: LinkSigner = request.app.state.link_signer
    return signer


async def _summary(conn: Conn, alert_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT a.title, a.severity, a.status, a.acknowledged_by, r.display_name, r.room, r.bed,"
        " a.unit_id FROM alerts_view a LEFT JOIN residents r USING (resident_id)"
        " WHERE a.alert_id = %s",
        [alert_id],
    )
    row = await cur.fetchone()
    if row is None:
        return None
    keys = ("title", "severity", "status", "by", "name", "room", "bed", "unit")
    return dict(zip(keys, row, strict=True))


def _describe(s: dict[str, Any]) -> str:
    where = ", ".join(
        p
        for p in (
            f"unit {s['unit']}" if s["unit"] else "",
            f"room {s['room']}" if s["room"] else "",
            f"bed {s['bed']}" if s["bed"] else "",
        )
        if p
    )
    who = escape(s["name"] or "")
    return (
        f"<h1>{escape(s['title'])}</h1><p><strong>{who}</strong></p>"
        f"<p class=muted>{escape(where)} · {escape(s['severity'])}</p>"
    )


@router.get("/a/{token}", response_class=HTMLResponse)
async def show(token: str, request: Request, conn: Conn) -> HTMLResponse:
    try:
        alert_id, _staff, nonce = _signer(request).verify(token)
    except LinkError as exc:
        return _page("Link not valid", f"<h1>{escape(str(exc))}</h1>", 410)
    cur = await conn.execute(
        "SELECT used_at IS NOT NULL FROM ack_links WHERE nonce = %s AND alert_id = %s",
        [nonce, alert_id],
    )
    link = await cur.fetchone()
    summary = await _summary(conn, alert_id)
    if link is None or summary is None:
        return _page("Link not valid", "<h1>This is not a valid acknowledgement link</h1>", 410)
    if link[0]:
        return _page("Already used", "<h1>This link has already been used</h1>", 410)
    if summary["status"] in ("acknowledged", "resolved"):
        by = escape(summary["by"] or "someone")
        return _page(
            "Already acknowledged", f"{_describe(summary)}<p>Already acknowledged by {by}.</p>"
        )
    return _page(
        "Acknowledge",
        f"{_describe(summary)}<form method=post><button type=submit>"
        "I'm on it — acknowledge</button></form>",
    )


@router.post("/a/{token}", response_class=HTMLResponse)
async def acknowledge(token: str, request: Request, conn: Conn) -> HTMLResponse:
    try:
        alert_id, staff_id, nonce = _signer(request).verify(token)
    except LinkError as exc:
        return _page("Link not valid", f"<h1>{escape(str(exc))}</h1>", 410)
    cur = await conn.execute(
        "UPDATE ack_links SET used_at = now() WHERE nonce = %s AND alert_id = %s"
        " AND staff_id = %s AND used_at IS NULL AND expires_at > now() RETURNING nonce",
        [nonce, alert_id, staff_id],
    )
    if await cur.fetchone() is None:
        return _page(
            "Link not valid", "<h1>This link has already been used or has expired</h1>", 410
        )
    result = await submit(
        request.app.state.database_url, kind="ack", alert_id=alert_id, actor=staff_id, via="link"
    )
    summary = await _summary(conn, alert_id) or {}
    described = _describe(summary) if summary else ""
    if result.status == 200:
        return _page("Acknowledged", f"{described}<p>Acknowledged. Thank you.</p>")
    if result.status is None:
        return _page("Queued", f"{described}<p>Your acknowledgement is queued.</p>", 202)
    by = escape(summary.get("by") or "someone")
    return _page(
        "Not acknowledged",
        f"{described}<p>Not acknowledged: {escape(result.error or '')} (by {by}).</p>",
        409,
    )
