"""Alerts: list with filters, one alert with its incident's timeline and deliveries,
acknowledge, resolve with an outcome.

Acknowledge and resolve are queued to the alert service (the one writer of alert state) and
answered when it has applied them: 200 with the alert, 404 / 409 / 422 with its reason, or 202
if the service did not answer in time (the command stays queued and is applied when it runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from psycopg import AsyncConnection
from pydantic import BaseModel, Field
from starlette.types import Receive, Scope, Send

from rules.types import Severity
from services.alerts.commands import CommandResult, submit
from services.alerts.lifecycle import MAX_NOTE
from services.alerts.model import STAFF_OUTCOMES, StaffOutcome
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
from services.api.listener import End, EndReason, FeedEvent, Hub, StreamLimit
from services.auth import audit
from services.auth.principal import Principal
from services.auth.tokens import TokenError, TokenLife, TokenSigner, live_sessions

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("alerts:read"))]
Actor = Annotated[Principal, Depends(require("alerts:act"))]

Status = Literal["open", "notified", "escalated", "acknowledged", "resolved"]
SEVERITY_RANK = (
    "CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"
)

COLUMNS = (
    "alert_id, incident_id, rule_id, subject, resident_id, site_id, unit_id, title, severity,"
    ' status, opened_at, first_ts, last_ts, count, "values", suggestion, condition_cleared,'
    " escalation_step, acknowledged_at, acknowledged_by, acknowledged_via, delivered_at,"
    " outcome, resolved_by, resolved_at, note, audience"
)


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


def _alert(row: tuple[Any, ...]) -> dict[str, Any]:
    names = [c.strip().strip('"') for c in COLUMNS.split(",")]
    return dict(zip(names, row, strict=True))


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
    scope, args = caller.scope_sql("site_id", "unit_id")
    where: list[str] = [scope]
    filters = (
        ("site_id", site),
        ("unit_id", unit),
        ("resident_id", resident),
        ("audience", audience),
    )
    for column, value in filters:
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    if status_:
        where.append("status = ANY(%s)")
        args.append(list(status_))
    if severity:
        where.append("severity = ANY(%s)")
        args.append(severity)
    if active is not None:
        where.append("resolved_at IS NULL" if active else "resolved_at IS NOT NULL")
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM alerts_view WHERE {' AND '.join(where)}"  # noqa: S608 - fixed parts
        f" ORDER BY (resolved_at IS NULL) DESC, {SEVERITY_RANK} DESC, opened_at, alert_id"
        " LIMIT %s OFFSET %s",
        [*args, limit, offset],
    )
    items = [AlertOut(**_alert(row)) for row in await cur.fetchall()]
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
    scope, scoped = caller.scope_sql("site_id", "unit_id")
    cur = await conn.execute(
        "SELECT rule_id, count(*),"  # noqa: S608 - the scope clause is built from fixed parts
        " count(*) FILTER (WHERE outcome = 'actionable'),"
        " count(*) FILTER (WHERE outcome = 'already_attended'),"
        " count(*) FILTER (WHERE outcome = 'false_alarm')"
        " FROM alerts_view WHERE outcome IN ('actionable', 'already_attended', 'false_alarm')"
        " AND (%s::timestamptz IS NULL OR opened_at >= %s)"
        " AND (%s::text IS NULL OR site_id = %s)"
        f" AND {scope} GROUP BY rule_id ORDER BY rule_id",
        [since, since, site, site, *scoped],
    )
    return [
        RuleOutcomes(
            rule_id=rule,
            resolved=n,
            actionable=act,
            already_attended=att,
            false_alarm=false,
            precision=(act + att) / n if n else None,
        )
        for rule, n, act, att, false in await cur.fetchall()
    ]


# The live feed ---------------------------------------------------------------------------
# One listener per API process reads each event once and fans it out (services/api/listener.py);
# a stream holds no database connection, only a borrowed one while it catches up.

HEARTBEAT_S = 15.0  # a comment line now and then keeps proxies from closing an idle stream
PAGE = 200  # events read at a time


def visible(caller: Principal, alert: dict[str, Any]) -> bool:
    """Whether the caller's feed shows this alert (the scope filter of the live feed)."""
    return caller.covers(alert["site_id"], alert["unit_id"])


def _sse(event_id: int | None, data: dict[str, Any], *, kind: str = "alert") -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines += [f"event: {kind}", f"data: {json.dumps(data, default=str, ensure_ascii=False)}"]
    return "\n".join(lines) + "\n\n"


def _messages(caller: Principal, event: FeedEvent) -> list[str]:
    alerts = [a for a in event.alerts if visible(caller, a)]
    messages = []
    for i, alert in enumerate(alerts):
        # The id only on an event's last message: a reconnect resumes after whole events.
        last = i == len(alerts) - 1
        data = {"event_id": event.event_id, "kind": event.kind, "alert": alert}
        messages.append(_sse(event.event_id if last else None, data))
    return messages


# Why a stream ended, for the reader (its last message, `event: end`).
END_DETAIL: dict[EndReason, str] = {
    "token_expired": "the access token expired: refresh it and reconnect with Last-Event-ID",
    "session_revoked": "the session was ended (logged out or revoked): log in again",
    "too_slow": "the stream fell too far behind: reconnect with Last-Event-ID",
    "shutting_down": "the server is restarting: reconnect with Last-Event-ID",
}


def _end(reason: EndReason) -> str:
    return _sse(None, {"reason": reason, "detail": END_DETAIL[reason]}, kind="end")


async def load_events(conn: AsyncConnection[Any], after: int, limit: int) -> list[FeedEvent]:
    """The events after `after`, oldest first, each with the alerts it changed as they are
    now (the listener's and the catch-up's one reader)."""
    cur = await conn.execute(
        "SELECT event_id, incident_id, alert_id, kind FROM alert_events WHERE event_id > %s"
        " ORDER BY event_id LIMIT %s",
        [after, limit],
    )
    events = []
    for event_id, incident_id, alert_id, kind in await cur.fetchall():
        where, arg = ("alert_id = %s", alert_id) if alert_id else ("incident_id = %s", incident_id)
        rows = await conn.execute(
            f"SELECT {COLUMNS} FROM alerts_view WHERE {where} ORDER BY alert_id",  # noqa: S608
            [arg],
        )
        alerts = tuple(AlertOut(**_alert(r)).model_dump(mode="json") for r in await rows.fetchall())
        events.append(FeedEvent(event_id, kind, alerts))
    return events


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


class FeedResponse(StreamingResponse):
    """A stream that gives back its place (`on_close`) however it ends, and stops as soon as
    the client goes, not at its next heartbeat."""

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def until_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(until_disconnect)
                with contextlib.suppress(OSError):  # the client went away mid-write
                    await self.stream_response(send)
                group.cancel_scope.cancel()
        finally:
            self.on_close()


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
                    END_DETAIL["session_revoked"],
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
                    yield _end("token_expired")
                    return
            try:
                item = await asyncio.wait_for(sub.queue.get(), timeout=left)
            except TimeoutError:
                if life.expires_at is None or datetime.now(UTC) < life.expires_at:
                    yield ": ping\n\n"
                continue
            if isinstance(item, End):
                yield _end(item.reason)
                return
            if item.event_id <= cursor:
                continue  # already sent while catching up
            cursor = item.event_id
            for message in _messages(caller, item):
                yield message

    return FeedResponse(events(), on_close=lambda: hub.unsubscribe(sub))


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
    cur = await conn.execute(
        "SELECT event_id, alert_id, ts, kind, data FROM alert_events WHERE incident_id = %s"
        " AND (alert_id IS NULL OR alert_id = %s) ORDER BY event_id",
        [alert["incident_id"], alert_id],
    )
    timeline = [
        EventOut(event_id=r[0], alert_id=r[1], ts=r[2], kind=r[3], data=r[4])
        for r in await cur.fetchall()
    ]
    cur = await conn.execute(
        "SELECT notification_id, kind, recipient, status, attempts, delivered_at, last_error"
        " FROM notifications WHERE incident_id = %s ORDER BY notification_id",
        [alert["incident_id"]],
    )
    sent = [
        DeliveryOut(
            notification_id=r[0],
            kind=r[1],
            recipient=r[2],
            status=r[3],
            attempts=r[4],
            delivered_at=r[5],
            last_error=r[6],
        )
        for r in await cur.fetchall()
    ]
    return AlertDetail(**alert, timeline=timeline, notifications=sent)


async def _fetch(conn: Conn, alert_id: int) -> dict[str, Any] | None:
    """The alert as people see it (alerts_view), or None."""
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM alerts_view WHERE alert_id = %s",  # noqa: S608 - fixed parts
        [alert_id],
    )
    row = await cur.fetchone()
    return None if row is None else _alert(row)


async def _scoped(conn: Conn, caller: Principal, alert_id: int) -> dict[str, Any]:
    """The alert, if it exists (404) and is in the caller's scope (403)."""
    alert = await _fetch(conn, alert_id)
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
    alert = await _fetch(conn, alert_id)
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
