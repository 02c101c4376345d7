"""The one-time acknowledgement link from a page: works from a phone without logging in.

GET shows the alert and one button; only the POST acknowledges. Messaging apps open links to
build previews, and a preview must not acknowledge a fall nobody has looked at. The token is
signed (who, which alert, when) and single-use (`ack_links.used_at`); it can acknowledge its
own alert and nothing else.

The page speaks the language of the person the link was made for (the care team document:
theirs, their site's, zh-CN), shows times in the site's zone, and, like the page that carried
the link, names the bed, rule and severity but not the resident unless the site allows it
(the link travels through a third party, whose previews open it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.alerts.commands import submit
from services.alerts.links import LinkError, LinkExpired, LinkSigner
from services.alerts.messages import local_time, room_text
from services.api.deps import Conn
from services.api.repos import ack_link as repo
from services.careteam.store import current_team
from services.careteam.team import CareTeam
from services.catalogue import DEFAULT_LANGUAGE, Language, has, text

router = APIRouter(tags=["acknowledgement links"], include_in_schema=False)

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}

STYLE = """
* { box-sizing: border-box; }
body { font: 18px/1.5 system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; margin: 0;
  padding: 1em; max-width: 32em; overflow-wrap: anywhere; color: #1a1a1a; }
h1 { font-size: 1.35em; margin: .2em 0 .4em; }
.sev { display: inline-block; padding: .1em .6em; border-radius: 1em; color: #fff;
  background: #555; font-weight: 600; }
.sev.critical { background: #8b0000; } .sev.high { background: #b00020; }
.sev.medium { background: #b35900; }
.where { font-size: 1.15em; font-weight: 600; margin: .5em 0 .2em; }
.part { white-space: nowrap; }
.muted { color: #555; margin: .2em 0; }
.note { margin: 1em 0; padding: .7em; border-radius: .4em; background: #eef4ee; }
button, a.action { display: block; font-size: 1.15em; padding: .8em 1em; width: 100%;
  border-radius: .4em; text-align: center; margin: .6em 0; min-height: 3em; }
button { background: #b00020; color: #fff; border: 0; }
a.action { background: #f2f2f2; color: #0b57d0; text-decoration: none; border: 1px solid #ccc; }
"""


@dataclass(frozen=True, slots=True)
class _View:
    language: Language
    team: CareTeam


def _page(view: _View, title: str, body: str, status: int = 200) -> HTMLResponse:
    lang = view.language
    app = escape(text(lang, "app.name"))
    html = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} — {app}</title>
<style>{STYLE}</style></head><body>{body}</body></html>"""
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _signer(request: Request) -> LinkSigner:
    signer: LinkSigner = request.app.state.link_signer
    return signer


async def _view(conn: Conn, staff_id: str | None, site: str | None) -> _View:
    _, team = await current_team(conn)
    if staff_id is None:
        return _View(team.policy(site).language if site else DEFAULT_LANGUAGE, team)
    return _View(team.language_of(staff_id, site), team)


def _when(view: _View, s: dict[str, Any], ts: datetime) -> str:
    zone = s["timezone"] or view.team.alerts.timezone_of(s["site"])
    return local_time(view.language, ts, zone)


def _describe(view: _View, s: dict[str, Any]) -> str:
    lang = view.language
    key = f"rule.{s['rule_id']}"
    rule = text(lang, key) if lang != "en" and has(lang, key) else s["title"]
    severity = text(lang, f"severity.{s['severity']}")
    parts = [s["site_name"] or s["site"]]
    if s["unit"]:
        parts.append(text(lang, "pages.unit", unit=s["unit_name"] or s["unit"]))
    if s["room"]:
        parts.append(room_text(lang, s["room"]))
    if s["bed"]:
        parts.append(text(lang, "pages.bed", bed=s["bed"]))
    # Each part on one line ("203 房" never splits); the parts wrap between them.
    where = escape(text(lang, "pages.place_sep")).join(
        f"<span class=part>{escape(p)}</span>" for p in parts
    )
    who = ""
    # The site's choice, and the resident's consent to third-party messaging (the link came
    # through one).
    if s["name"] and s["messaging_consent"] and view.team.policy(s["site"]).full_details:
        who = f"<p class=muted>{escape(text(lang, 'pages.who', who=s['name']))}</p>"
    since = text(lang, "ack.since", when=_when(view, s, s["first_ts"]))
    return (
        f"<p><span class='sev {escape(s['severity'])}'>{escape(severity)}</span></p>"
        f"<h1>{escape(rule)}</h1><p class=where>{where}</p>{who}"
        f"<p class=muted>{escape(since)}</p>"
    )


def _acked_by(view: _View, s: dict[str, Any]) -> str:
    if not s.get("by") or s.get("at") is None:
        return ""
    person = next((p for p in view.team.staff if p.id == s["by"]), None)
    who = person.name if person else s["by"]
    line = text(view.language, "ack.acked_by", who=who, when=_when(view, s, s["at"]))
    return f"<p class=note id=acked-by>{escape(line)}</p>"


def _next_steps(view: _View, s: dict[str, Any]) -> str:
    """After acknowledging: resolve with an outcome and the resident page, behind the login."""
    lang = view.language
    links = [("/board", text(lang, "ack.resolve"), "resolve")]
    if s.get("resident_id") is not None:
        links.append(
            (f"/residents/{int(s['resident_id'])}", text(lang, "ack.resident"), "resident")
        )
    return "".join(
        f"<a class=action id={ident} href='{escape(href)}'>{escape(label)}</a>"
        for href, label, ident in links
    )


def _invalid(view: _View, exc: LinkError | None = None) -> HTMLResponse:
    key = "ack.expired" if isinstance(exc, LinkExpired) else "ack.invalid"
    message = text(view.language, key)
    return _page(view, message, f"<h1>{escape(message)}</h1>", 410)


@router.get("/a/{token}", response_class=HTMLResponse)
async def show(token: str, request: Request, conn: Conn) -> HTMLResponse:
    try:
        alert_id, staff_id, nonce = _signer(request).verify(token)
    except LinkError as exc:
        return _invalid(await _view(conn, None, None), exc)
    used = await repo.link_used(conn, nonce=nonce, alert_id=alert_id)
    summary = await repo.alert_summary(conn, alert_id=alert_id)
    view = await _view(conn, staff_id, summary["site"] if summary else None)
    if used is None or summary is None:
        return _invalid(view)
    lang = view.language
    described = _describe(view, summary)
    if used or summary["status"] in ("acknowledged", "resolved"):
        note = f"<p class=muted>{escape(text(lang, 'ack.used'))}</p>" if used else ""
        return _page(
            view,
            text(lang, "ack.title"),
            f"{described}{_acked_by(view, summary)}{note}{_next_steps(view, summary)}",
            410 if used else 200,
        )
    return _page(
        view,
        text(lang, "ack.title"),
        f"{described}<form method=post><button type=submit id=ack>"
        f"{escape(text(lang, 'ack.button'))}</button></form>",
    )


@router.post("/a/{token}", response_class=HTMLResponse)
async def acknowledge(token: str, request: Request, conn: Conn) -> HTMLResponse:
    try:
        alert_id, staff_id, nonce = _signer(request).verify(token)
    except LinkError as exc:
        return _invalid(await _view(conn, None, None), exc)
    if not await repo.use_link(conn, nonce=nonce, alert_id=alert_id, staff_id=staff_id):
        summary = await repo.alert_summary(conn, alert_id=alert_id)
        view = await _view(conn, staff_id, summary["site"] if summary else None)
        if summary is None:
            return _invalid(view)
        lang = view.language
        return _page(
            view,
            text(lang, "ack.used"),
            f"{_describe(view, summary)}{_acked_by(view, summary)}"
            f"<p class=muted>{escape(text(lang, 'ack.used'))}</p>{_next_steps(view, summary)}",
            410,
        )
    result = await submit(
        request.app.state.database_url, kind="ack", alert_id=alert_id, actor=staff_id, via="link"
    )
    summary = await repo.alert_summary(conn, alert_id=alert_id) or {}
    view = await _view(conn, staff_id, summary.get("site"))
    lang = view.language
    described = _describe(view, summary) if summary else ""
    steps = _next_steps(view, summary) if summary else ""
    if result.status == 200:
        done = escape(text(lang, "ack.done"))
        return _page(
            view, text(lang, "ack.done"), f"{described}<p class=note id=done>{done}</p>{steps}"
        )
    if result.status is None:
        queued = escape(text(lang, "ack.queued"))
        return _page(view, text(lang, "ack.queued"), f"{described}<p class=note>{queued}</p>", 202)
    refused = text(lang, "ack.refused", detail=result.error or "")
    return _page(
        view,
        refused,
        f"{described}<p class=note>{escape(refused)}</p>{_acked_by(view, summary)}{steps}",
        409,
    )
