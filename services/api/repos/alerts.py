"""SQL of the alerts router: alerts as people see them (`alerts_view`), an incident's timeline and
deliveries, per-rule outcomes, and the events the live feed reads. Alerts come back as dicts
keyed by `NAMES`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]

COLUMNS: Final = (
    "alert_id, incident_id, rule_id, subject, resident_id, site_id, unit_id, title, severity,"
    ' status, opened_at, first_ts, last_ts, count, "values", suggestion, condition_cleared,'
    " escalation_step, acknowledged_at, acknowledged_by, acknowledged_via, delivered_at,"
    " outcome, resolved_by, resolved_at, note, audience"
)
NAMES: Final = tuple(c.strip().strip('"') for c in COLUMNS.split(","))
SEVERITY_RANK: Final = (
    "CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END"
)
# Scope fragments come from auth.principal.Principal.scope_sql: fixed parts, never input.
Scope = tuple[str, Sequence[object]]


def _alert(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(NAMES, row, strict=True))


async def list_alerts(
    conn: Conn,
    *,
    scope: Scope,
    site: str | None,
    unit: str | None,
    resident: int | None,
    audience: str | None,
    statuses: Sequence[str] | None,
    severities: Sequence[str] | None,
    active: bool | None,
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    """Alerts in `scope` matching every filter given: unresolved first, then by severity, then
    oldest first."""
    where: list[str] = [scope[0]]
    args: list[object] = list(scope[1])
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
    if statuses:
        where.append("status = ANY(%s)")
        args.append(list(statuses))
    if severities:
        where.append("severity = ANY(%s)")
        args.append(list(severities))
    if active is not None:
        where.append("resolved_at IS NULL" if active else "resolved_at IS NOT NULL")
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM alerts_view WHERE {' AND '.join(where)}"  # noqa: S608 - fixed parts
        f" ORDER BY (resolved_at IS NULL) DESC, {SEVERITY_RANK} DESC, opened_at, alert_id"
        " LIMIT %s OFFSET %s",
        [*args, limit, offset],
    )
    return [_alert(row) for row in await cur.fetchall()]


async def get_alert(conn: Conn, *, alert_id: int) -> dict[str, Any] | None:
    """The alert as people see it, or None."""
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM alerts_view WHERE alert_id = %s",  # noqa: S608 - fixed parts
        [alert_id],
    )
    row = await cur.fetchone()
    return None if row is None else _alert(row)


@dataclass(frozen=True, slots=True)
class RuleCounts:
    rule_id: str
    resolved: int
    actionable: int
    already_attended: int
    false_alarm: int


async def rule_outcomes(
    conn: Conn, *, scope: Scope, since: datetime | None, site: str | None
) -> list[RuleCounts]:
    """Per rule, how the alerts in `scope` opened since `since` were resolved by staff."""
    cur = await conn.execute(
        "SELECT rule_id, count(*),"  # noqa: S608 - the scope clause is built from fixed parts
        " count(*) FILTER (WHERE outcome = 'actionable'),"
        " count(*) FILTER (WHERE outcome = 'already_attended'),"
        " count(*) FILTER (WHERE outcome = 'false_alarm')"
        " FROM alerts_view WHERE outcome IN ('actionable', 'already_attended', 'false_alarm')"
        " AND (%s::timestamptz IS NULL OR opened_at >= %s)"
        " AND (%s::text IS NULL OR site_id = %s)"
        f" AND {scope[0]} GROUP BY rule_id ORDER BY rule_id",
        [since, since, site, site, *scope[1]],
    )
    return [RuleCounts(*row) for row in await cur.fetchall()]


async def timeline(conn: Conn, *, incident_id: int, alert_id: int) -> list[dict[str, Any]]:
    """The incident's events that concern the alert (or the whole incident), in order."""
    cur = await conn.execute(
        "SELECT event_id, alert_id, ts, kind, data FROM alert_events WHERE incident_id = %s"
        " AND (alert_id IS NULL OR alert_id = %s) ORDER BY event_id",
        [incident_id, alert_id],
    )
    names = ("event_id", "alert_id", "ts", "kind", "data")
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


async def deliveries(conn: Conn, *, incident_id: int) -> list[dict[str, Any]]:
    """The incident's messages and how their delivery went, in the order queued."""
    cur = await conn.execute(
        "SELECT notification_id, kind, recipient, status, attempts, delivered_at, last_error"
        " FROM notifications WHERE incident_id = %s ORDER BY notification_id",
        [incident_id],
    )
    names = (
        "notification_id", "kind", "recipient", "status", "attempts", "delivered_at", "last_error"
    )  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An alert event with the alerts it changed, as they are now."""

    event_id: int
    kind: str
    alerts: list[dict[str, Any]]


async def events_after(conn: Conn, *, after: int, limit: int) -> list[StoredEvent]:
    """The events after `after`, oldest first (the live feed's listener and catch-up)."""
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
        events.append(StoredEvent(event_id, kind, [_alert(r) for r in await rows.fetchall()]))
    return events
