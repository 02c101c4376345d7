"""The alert service's database side: the book snapshot, incident and alert rows as people see
them, the timeline, pending candidates and staff commands. Every function runs in the caller's
transaction; the service commits a step's reads, writes and snapshot together."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.state_codec import Json, StateFormatError, decode, encode, upgrade
from rules.types import AlertCandidate
from services.alerts.model import (
    STAFF_OUTCOMES,
    AckEvent,
    AlertBook,
    AlertEvent,
    Incident,
    ResolvedEvent,
)
from services.errors import LegacyStateError

__all__ = [
    "BOOK_VERSION",
    "Command",
    "device_kinds",
    "finish_command",
    "load_book",
    "mark_consumed",
    "pending_candidates",
    "pending_commands",
    "record_attendance",
    "save_book",
    "write_event",
    "write_incident",
]

# Held for its whole life by the one alert service taking work: a second instance (a standby,
# or one started by mistake) waits for it, since it would decide from a book it loaded once.
ACTIVE_LOCK = 0x43570002


async def try_become_active(conn: Conn) -> bool:
    """Take the active service's lock on `conn` (autocommit), for as long as the session
    lasts; the server frees it when the session ends, a SIGKILLed holder included."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", [ACTIVE_LOCK])
    row = await cur.fetchone()
    return bool(row and row[0])


# The book is stored as JSON (rules/state_codec.py) with its format version. Format 1 is the
# binary format of earlier releases: refused here, rewritten as JSON by `carewatch
# upgrade-state` (upgrade/state.py). STEPS[v] converts a JSON document of format v to v + 1
# (add one when a change to the book's dataclasses needs more than a new field with a
# default). A newer format, or one that does not decode, is refused loudly rather than
# half-read.
LEGACY_VERSION = 1
BOOK_VERSION = 2
STEPS: Mapping[int, Callable[[Json], Json]] = {}
Conn = AsyncConnection[TupleRow]


def decode_book(doc: Json, version: int) -> AlertBook:
    book = decode(upgrade(doc, version, BOOK_VERSION, STEPS), AlertBook)
    assert isinstance(book, AlertBook)
    return book


async def load_book(conn: Conn) -> AlertBook:
    """The last committed book; a new one (ids continuing after any stored rows) if none.
    A book in the binary format 1 is refused (LegacyStateError), never read or replaced."""
    cur = await conn.execute("SELECT version, doc FROM alert_service_state")
    row = await cur.fetchone()
    if row is not None:
        version, doc = row
        if version == LEGACY_VERSION:
            raise LegacyStateError("the alert book (alert_service_state) is")
        try:
            return decode_book(doc, version)
        except StateFormatError as e:
            raise RuntimeError(f"alert service state (format {version}) not loaded: {e}") from e
    cur = await conn.execute(
        "SELECT coalesce((SELECT max(alert_id) FROM alerts), 0),"
        " coalesce((SELECT max(incident_id) FROM incidents), 0)"
    )
    ids = await cur.fetchone()
    assert ids is not None
    return AlertBook(next_alert_id=ids[0] + 1, next_incident_id=ids[1] + 1)


async def save_book(conn: Conn, book: AlertBook, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO alert_service_state (singleton, version, doc, saved_at)"
        " VALUES (true, %s, %s, %s) ON CONFLICT (singleton) DO UPDATE"
        " SET version = excluded.version, doc = excluded.doc, book = NULL,"
        " saved_at = excluded.saved_at",
        [BOOK_VERSION, Jsonb(encode(book, AlertBook)), now],
    )


async def pending_candidates(conn: Conn, limit: int) -> list[tuple[int, AlertCandidate]]:
    cur = await conn.execute(
        'SELECT id, rule_id, action, subject, dedupe_key, severity, ts, title, "values",'
        " suggestion, audience, created_at FROM alert_candidates WHERE consumed_at IS NULL"
        " ORDER BY id LIMIT %s",
        [limit],
    )
    return [
        (
            row[0],
            AlertCandidate(
                rule_id=row[1],
                action=row[2],
                subject=row[3],
                dedupe_key=row[4],
                severity=row[5],
                ts=row[6],
                title=row[7],
                values=row[8],
                suggestion=row[9],
                audience=row[10],
                # Written by the detector as it took the data in: when the data arrived.
                arrived_at=row[11],
            ),
        )
        for row in await cur.fetchall()
    ]


async def device_kinds(conn: Conn, device_ids: Iterable[str]) -> dict[str, str]:
    """Each known device's kind (wearable, bed_sensor, gateway): pages say which device."""
    cur = await conn.execute(
        "SELECT device_id, kind FROM devices WHERE device_id = ANY(%s)", [sorted(set(device_ids))]
    )
    return {str(device_id): str(kind) for device_id, kind in await cur.fetchall()}


async def mark_consumed(
    conn: Conn, ids: Iterable[int], now: datetime, errors: Mapping[int, str] | None = None
) -> None:
    await conn.execute(
        "UPDATE alert_candidates SET consumed_at = %s WHERE id = ANY(%s)", [now, list(ids)]
    )
    for cid, error in (errors or {}).items():
        await conn.execute(
            "UPDATE alert_candidates SET consume_error = %s WHERE id = %s", [error, cid]
        )


@dataclass(frozen=True, slots=True)
class Command:
    command_id: int
    kind: str
    alert_id: int
    actor: str
    via: str
    outcome: str | None
    note: str | None


async def pending_commands(conn: Conn) -> list[Command]:
    cur = await conn.execute(
        "SELECT command_id, kind, alert_id, actor, via, outcome, note FROM alert_commands"
        " WHERE done_at IS NULL ORDER BY command_id"
    )
    return [Command(*row) for row in await cur.fetchall()]


async def finish_command(
    conn: Conn, command_id: int, status: int, error: str | None, now: datetime
) -> None:
    await conn.execute(
        "UPDATE alert_commands SET done_at = %s, status = %s, error = %s WHERE command_id = %s",
        [now, status, error, command_id],
    )
    # Delivered at commit: whoever queued the command is waiting for this.
    await conn.execute("SELECT pg_notify('carewatch_command_done', %s)", [str(command_id)])


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


async def write_event(conn: Conn, incident_id: int, event: AlertEvent) -> None:
    data = _jsonable(asdict(event))
    for key in ("ts", "alert_id"):
        data.pop(key, None)
    await conn.execute(
        "INSERT INTO alert_events (incident_id, alert_id, ts, kind, data)"
        " VALUES (%s, %s, %s, %s, %s)",
        [incident_id, event.alert_id, event.ts, type(event).__name__, Jsonb(data)],
    )


async def record_attendance(conn: Conn, incident: Incident, event: AlertEvent) -> None:
    """A person acknowledged or resolved a resident's alert: say so to the detector (through
    `staff_attendance`, which it reads in order), so the rules know somebody came. Resolutions
    by the system (a self-clearing condition) are not attendance."""
    if incident.resident_id is None:
        return
    if isinstance(event, AckEvent):
        action = "acknowledged"
        alerts = list(incident.alerts)  # the page, and so the acknowledgement, was for all
        by = event.by
    elif isinstance(event, ResolvedEvent) and event.outcome in STAFF_OUTCOMES:
        action = "resolved"
        alerts = [incident.alert(event.alert_id)]
        by = event.by
    else:
        return
    for a in alerts:
        await conn.execute(
            "INSERT INTO staff_attendance (resident_id, site_id, alert_id, rule_id, dedupe_key,"
            " condition_ts, action, by_staff, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                incident.resident_id,
                incident.site_id,
                a.id,
                a.rule_id,
                a.dedupe_key,
                a.first_ts,
                action,
                by,
                event.ts,
            ],
        )


async def write_incident(conn: Conn, incident: Incident, now: datetime) -> None:
    """Upsert the incident and every alert in it as they stand in the book."""
    ack = incident.acknowledgement
    resolved_at = (
        max((a.resolution.at for a in incident.alerts if a.resolution), default=None)
        if incident.status == "resolved"
        else None
    )
    await conn.execute(
        "INSERT INTO incidents (incident_id, subject, audience, site_id, unit_id, resident_id,"
        " state, severity, title, opened_at, escalation_step, acknowledged_at, acknowledged_by,"
        " acknowledged_via, resolved_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (incident_id) DO UPDATE SET state = excluded.state,"
        " severity = excluded.severity, title = excluded.title,"
        " escalation_step = excluded.escalation_step,"
        " acknowledged_at = excluded.acknowledged_at, acknowledged_by = excluded.acknowledged_by,"
        " acknowledged_via = excluded.acknowledged_via, resolved_at = excluded.resolved_at,"
        " updated_at = excluded.updated_at",
        [
            incident.id,
            incident.subject,
            incident.audience,
            incident.site_id,
            incident.unit_id,
            incident.resident_id,
            incident.status,
            incident.severity,
            " + ".join(dict.fromkeys(a.title for a in incident.alerts)),
            incident.opened_at,
            incident.escalation.step,
            ack.at if ack else None,
            ack.by if ack else None,
            ack.via if ack else None,
            resolved_at,
            now,
        ],
    )
    for a in incident.alerts:
        r = a.resolution
        await conn.execute(
            "INSERT INTO alerts (alert_id, incident_id, rule_id, dedupe_key, subject,"
            ' resident_id, title, severity, opened_at, first_ts, last_ts, count, "values",'
            " suggestion, condition_cleared, outcome, resolved_by, resolved_at, note, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s)"
            " ON CONFLICT (alert_id) DO UPDATE SET title = excluded.title,"
            " severity = excluded.severity, last_ts = excluded.last_ts, count = excluded.count,"
            ' "values" = excluded."values", suggestion = excluded.suggestion,'
            " condition_cleared = excluded.condition_cleared, outcome = excluded.outcome,"
            " resolved_by = excluded.resolved_by, resolved_at = excluded.resolved_at,"
            " note = excluded.note, updated_at = excluded.updated_at",
            [
                a.id,
                incident.id,
                a.rule_id,
                a.dedupe_key,
                a.subject,
                incident.resident_id,
                a.title,
                a.severity,
                a.opened_at,
                a.first_ts,
                a.last_ts,
                a.count,
                Jsonb(dict(a.values)),
                a.suggestion,
                a.condition_cleared,
                r.outcome if r else None,
                r.by if r else None,
                r.at if r else None,
                r.note if r else None,
                now,
            ],
        )
