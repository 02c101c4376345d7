"""Alerts: list with filters, one alert with its incident's timeline and deliveries,
acknowledge, resolve with an outcome.

Acknowledge and resolve are queued to the alert service (the one writer of alert state) and
answered when it has applied them: 200 with the alert, 404 / 409 / 422 with its reason, or 202
if the service did not answer in time (the command stays queued and is applied when it runs).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from rules.types import Severity
from services.alerts.commands import CommandResult, submit
from services.alerts.lifecycle import MAX_NOTE
from services.alerts.model import STAFF_OUTCOMES, StaffOutcome
from services.api import sse
from services.api.deps import (
    AUTHENTICATED,
    BIGINT_MAX,
    PLACE_ID,
    Conn,
    Instant,
    Offset,
    PgText,
    Problem,
    errors,
    get_pool,
    invalid,
    oauth2,
    require,
)
from services.api.listener import End, FeedEvent, Hub, StreamLimit
from services.api.repos import alerts as repo
from services.auth import audit
from services.auth.principal import Principal
from services.auth.tokens import TokenError, TokenLife, TokenSigner, live_sessions

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("alerts:read"))]
Actor = Annotated[Principal, Depends(require("alerts:act"))]

Status = Literal["open", "notified", "escalated", "acknowledged", "resolved"]


class AlertOut(BaseModel):
    alert_id: int
    incident_id: int
    rule_id: str
    subject: str
    resident_id: int | None
    site_id: str
    unit_id: str | None
    title: str
    severity: str
    status: Status = Field(
        description="'open' until a page was delivered to someone; then the incident's state"
    )
    opened_at: datetime
    first_ts: datetime
    last_ts: datetime
    count: int
    values: dict[str, Any]
    suggestion: str | None
    condition_cleared: bool
    escalation_step: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_via: str | None
    delivered_at: datetime | None
    outcome: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None
    audience: str | None = Field(
        default=None,
        description="who the alert is for beyond the unit's clinical staff: 'technical' for"
        " device alerts (the technical queue), 'infection_control' for outbreaks",
    )


class AlertPage(BaseModel):
    items: list[AlertOut]
    limit: int
    offset: int


class EventOut(BaseModel):
    event_id: int
    alert_id: int | None
    ts: datetime
    kind: str
    data: dict[str, Any]


class DeliveryOut(BaseModel):
    notification_id: int
    kind: str
    recipient: str
    status: str
    attempts: int
    delivered_at: datetime | None
    last_error: str | None


class AlertDetail(AlertOut):
    timeline: list[EventOut]
    notifications: list[DeliveryOut]


class Queued(BaseModel):
    detail: str
    command_id: int = Field(description="the queued command, applied when the service runs")


# What acknowledge and resolve may answer besides the alert.
COMMAND_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": Queued, "description": "queued; the alert service did not answer in time"},
    404: {"model": Problem, "description": "no such alert"},
    409: {"model": Problem, "description": "the alert is resolved, or cannot move so"},
}


class ResolveIn(BaseModel):
    outcome: StaffOutcome = Field(description=f"one of {', '.join(STAFF_OUTCOMES)}")
    note: PgText | None = Field(default=None, max_length=MAX_NOTE)


@router.get("")
async def list_alerts(
    conn: Conn,
    caller: Reader,
    request: Request,
    status_: Annotated[
        list[Status] | None, Query(alias="status", description="repeat for several")
    ] = None,
    active: Annotated[bool | None, Query(description="true: not yet resolved")] = None,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    resident: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    severity: Annotated[list[Severity] | None, Query(description="repeat for several")] = None,
    audience: Annotated[
        str | None,
        Query(max_length=64, description="e.g. 'technical': the device alerts' queue"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> AlertPage:
    """Most urgent first: unresolved before resolved, then by severity, then oldest first.
    Only alerts of the caller's sites and units."""
    rows = await repo.list_alerts(
        conn,
        scope=caller.scope_sql("site_id", "unit_id"),
        site=site,
        unit=unit,
        resident=resident,
        audience=audience,
        statuses=status_,
        severities=severity,
        active=active,
        limit=limit,
        offset=offset,
    )
    items = [AlertOut(**row) for row in rows]
    await audit.record(conn, request, caller, "alerts.list", "alerts", resident_id=resident)
    return AlertPage(items=items, limit=limit, offset=offset)


class RuleOutcomes(BaseModel):
    rule_id: str
    resolved: int = Field(description="resolved by staff (self-cleared device alerts excluded)")
    actionable: int
    already_attended: int
    false_alarm: int
    precision: float | None = Field(
        description="(actionable + already_attended) / resolved: the share of alerts that were "
        "about something real"
    )


@router.get("/precision")
async def precision_by_rule(
    conn: Conn,
    caller: Reader,
    since: Annotated[Instant | None, Query(description="alerts opened at or after")] = None,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
) -> list[RuleOutcomes]:
    """Per-rule precision from the outcomes staff chose when resolving."""
    counts = await repo.rule_outcomes(
        conn, scope=caller.scope_sql("site_id", "unit_id"), since=since, site=site
    )
    return [
        RuleOutcomes(
            rule_id=c.rule_id,
            resolved=c.resolved,
            actionable=c.actionable,
            already_attended=c.already_attended,
            false_alarm=c.false_alarm,
            precision=(c.actionable + c.already_attended) / c.resolved if c.resolved else None,
        )
        for c in counts
    ]


# The live feed ---------------------------------------------------------------------------
# One listener per API process reads each event once and fans it out (services/api/listener.py);
# a stream holds no database connection, only a borrowed one while it catches up.

HEARTBEAT_S = 15.0  # a comment line now and then keeps proxies from closing an idle stream
PAGE = 200  # events read at a time


def visible(caller: Principal, alert: dict[str, Any]) -> bool:
    """Whether the caller's feed shows this alert (the scope filter of the live feed)."""
    return caller.covers(alert["site_id"], alert["unit_id"])


def _messages(caller: Principal, event: FeedEvent) -> list[str]:
    alerts = [a for a in event.alerts if visible(caller, a)]
    messages = []
    for i, alert in enumerate(alerts):
        # The id only on an event's last message: a reconnect resumes after whole events.
        last = i == len(alerts) - 1
        data = {"event_id": event.event_id, "kind": event.kind, "alert": alert}
        messages.append(sse.message(event.event_id if last else None, data))
    return messages


async def load_events(conn: repo.Conn, after: int, limit: int) -> list[FeedEvent]:
    """The events after `after`, oldest first, each with the alerts it changed as they are
    now (the listener's and the catch-up's one reader)."""
    return [
        FeedEvent(
            e.event_id, e.kind, tuple(AlertOut(**a).model_dump(mode="json") for a in e.alerts)
        )
        for e in await repo.events_after(conn, after=after, limit=limit)
    ]


def token_life(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> TokenLife:
    """How long the caller's token lets a stream last (checked valid by `Reader` already)."""
    if not token or hmac.compare_digest(token.encode(), request.app.state.admin_token.encode()):
        return TokenLife()  # the deployment's admin token: no expiry, no session
    signer: TokenSigner = request.app.state.tokens
    try:
        return signer.life(token)
    except TokenError as exc:  # `Reader` answers first; never a 500 should the order change
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from None


LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "description": "too many live feeds open: for this user, or on this server",
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
    }
}


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
        **LIMITED,
    },
)
async def stream(
    request: Request,
    caller: Reader,
    life: Annotated[TokenLife, Depends(token_life)],
    last_event_id: Annotated[int | None, Header(ge=0, le=BIGINT_MAX)] = None,
) -> StreamingResponse:
    """Alert changes in the caller's scope as Server-Sent Events, within a second of the alert
    service committing them. Each message: `event: alert`, `data` = {event_id, kind, alert}
    (the alert as `GET /api/v1/alerts` shows it, after the change). Reconnect with the
    `Last-Event-ID` header to get everything after that event; without it the feed starts
    with the next change. The stream ends with `event: end`, `data` = {reason, detail}, when
    the access token expires (`token_expired`: refresh, then reconnect), its session is
    revoked (`session_revoked`), the reader falls too far behind (`too_slow`) or the server
    stops (`shutting_down`); a token of an ended session opens none (401). At most
    `stream_limit_per_user` open streams per user and `stream_limit_per_process` per server:
    past either, 429."""
    hub: Hub = request.app.state.feed
    pool = get_pool(request)
    if life.session_id is not None:
        # An access token outlives a logout by minutes: no new stream on an ended session.
        async with pool.connection() as conn:
            if not await live_sessions(conn, [life.session_id]):
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    sse.END_DETAIL["session_revoked"],
                    headers={"WWW-Authenticate": "Bearer"},
                )
    try:
        sub = hub.subscribe(caller.username, life.session_id)
    except StreamLimit as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, exc.detail, headers={"Retry-After": "10"}
        ) from None
    try:
        # Opening the feed is a read of resident data: audited on a connection of its own.
        await audit.record_own(request, caller, "alerts.stream", "alerts/stream")
    except BaseException:
        hub.unsubscribe(sub)
        raise

    async def events() -> AsyncIterator[str]:
        yield ": connected\n\n"
        cursor = sub.start if last_event_id is None else last_event_id
        # Catch up from Last-Event-ID to where the listener took over (a borrowed connection
        # per page); later events are in the queue.
        while cursor < sub.start:
            async with pool.connection() as conn:
                page = await load_events(conn, cursor, PAGE)
            page = [event for event in page if event.event_id <= sub.start]
            if not page:
                break
            for event in page:
                cursor = event.event_id
                for message in _messages(caller, event):
                    yield message
        while True:
            left = HEARTBEAT_S
            if life.expires_at is not None:
                left = min(left, (life.expires_at - datetime.now(UTC)).total_seconds())
                if left <= 0:
                    hub.unsubscribe(sub)
                    yield sse.end("token_expired")
                    return
            try:
                item = await asyncio.wait_for(sub.queue.get(), timeout=left)
            except TimeoutError:
                if life.expires_at is None or datetime.now(UTC) < life.expires_at:
                    yield ": ping\n\n"
                continue
            if isinstance(item, End):
                yield sse.end(item.reason)
                return
            if item.event_id <= cursor:
                continue  # already sent while catching up
            cursor = item.event_id
            for message in _messages(caller, item):
                yield message

    return sse.FeedResponse(events(), on_close=lambda: hub.unsubscribe(sub))


@router.get("/{alert_id}", responses=errors(404))
async def get_alert(alert_id: int, conn: Conn, caller: Reader, request: Request) -> AlertDetail:
    alert = await _scoped(conn, caller, alert_id)
    await audit.record(
        conn,
        request,
        caller,
        "alert.read",
        f"alert/{alert_id}",
        resident_id=alert["resident_id"],
        site_id=alert["site_id"],
    )
    incident_id = alert["incident_id"]
    timeline = await repo.timeline(conn, incident_id=incident_id, alert_id=alert_id)
    sent = await repo.deliveries(conn, incident_id=incident_id)
    return AlertDetail(
        **alert,
        timeline=[EventOut(**e) for e in timeline],
        notifications=[DeliveryOut(**d) for d in sent],
    )


async def _scoped(conn: Conn, caller: Principal, alert_id: int) -> dict[str, Any]:
    """The alert, if it exists (404) and is in the caller's scope (403)."""
    alert = await repo.get_alert(conn, alert_id=alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    if not caller.covers(alert["site_id"], alert["unit_id"]):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"alert {alert_id} is outside your scope")
    return alert


async def _answer(
    result: CommandResult, alert_id: int, conn: Conn, response: Response
) -> AlertOut | dict[str, Any]:
    if result.status is None:
        response.status_code = status.HTTP_202_ACCEPTED
        return {
            "detail": "the alert service has not answered yet; the command is queued",
            "command_id": result.command_id,
        }
    if result.status == status.HTTP_422_UNPROCESSABLE_CONTENT:
        # The service refused the resolution's outcome: named like a validation error.
        raise invalid(["body", "outcome"], result.error or "not an outcome")
    if result.status != 200:
        raise HTTPException(result.status, result.error)
    alert = await repo.get_alert(conn, alert_id=alert_id)
    assert alert is not None
    return AlertOut(**alert)


@router.post("/{alert_id}/ack", responses=COMMAND_ANSWERS)
async def ack_alert(
    alert_id: int, request: Request, conn: Conn, response: Response, caller: Actor
) -> AlertOut | dict[str, Any]:
    """Acknowledge: someone is on it, escalation stops for the whole incident."""
    alert = await _scoped(conn, caller, alert_id)
    result = await submit(
        request.app.state.database_url,
        kind="ack",
        alert_id=alert_id,
        actor=caller.actor,
        via="api",
    )
    await _audit_command(conn, request, caller, "alert.ack", alert, result)
    return await _answer(result, alert_id, conn, response)


@router.post("/{alert_id}/resolve", responses={**COMMAND_ANSWERS, **errors(400)})
async def resolve_alert(
    alert_id: int,
    body: ResolveIn,
    request: Request,
    conn: Conn,
    response: Response,
    caller: Actor,
) -> AlertOut | dict[str, Any]:
    """Resolve with an outcome (and an optional note): it feeds per-rule precision."""
    alert = await _scoped(conn, caller, alert_id)
    result = await submit(
        request.app.state.database_url,
        kind="resolve",
        alert_id=alert_id,
        actor=caller.actor,
        via="api",
        outcome=body.outcome,
        note=body.note,
    )
    await _audit_command(conn, request, caller, "alert.resolve", alert, result)
    return await _answer(result, alert_id, conn, response)


async def _audit_command(
    conn: Conn,
    request: Request,
    caller: Principal,
    action: str,
    alert: dict[str, Any],
    result: CommandResult,
) -> None:
    await audit.record(
        conn,
        request,
        caller,
        action,
        f"alert/{alert['alert_id']}",
        resident_id=alert["resident_id"],
        site_id=alert["site_id"],
        status=result.status or 202,
    )
