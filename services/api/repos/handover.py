"""SQL of the shift handover: the alerts open at some time during a window (with the resident's
name and bed), and the referrals that moved during it, step by step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.api.repos.alerts import COLUMNS, NAMES, SEVERITY_RANK

Conn = AsyncConnection[TupleRow]
# Scope fragments come from auth.principal.Principal.place_sql: fixed parts, never input.
Scope = tuple[str, Sequence[object]]
_ALERT_COLUMNS: Final = ", ".join(f"a.{name.strip()}" for name in COLUMNS.split(","))
_PLACE: Final = ("display_name", "room", "bed")


async def alerts_during(
    conn: Conn, *, scope: Scope, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """Alerts in `scope` (on `a`) open at some time between `start` and `end`: opened before
    the end and not resolved before the start. Unresolved first, then by severity and age;
    each as `alerts_view` has it, with the resident's `display_name`, `room` and `bed`."""
    cur = await conn.execute(
        f"SELECT {_ALERT_COLUMNS}, r.display_name, r.room, r.bed"  # noqa: S608 - fixed parts
        " FROM alerts_view a LEFT JOIN residents r ON r.resident_id = a.resident_id"
        f" WHERE {scope[0]} AND a.opened_at <= %s"
        " AND (a.resolved_at IS NULL OR a.resolved_at >= %s)"
        f" ORDER BY (a.resolved_at IS NULL) DESC, {SEVERITY_RANK}"
        " DESC, a.opened_at, a.alert_id LIMIT %s",
        [*scope[1], end, start, limit],
    )
    names = (*NAMES, *_PLACE)
    return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class Move:
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    staff_id: str | None
    side: str | None
    note: str


@dataclass(slots=True)
class MovedReferral:
    referral_id: int
    resident_id: int
    hospital_name: str
    state: str
    display_name: str | None
    room: str | None
    bed: str | None
    moves: list[Move] = field(default_factory=list)


async def referral_moves(
    conn: Conn, *, scope: Scope, start: datetime, end: datetime, limit: int
) -> list[MovedReferral]:
    """Referrals in `scope` (on `f`) whose state changed between `start` and `end` (opened,
    or moved on; a timer that fired without a move is not a move), with those steps in order,
    the most recently moved referral first."""
    cur = await conn.execute(
        "SELECT f.referral_id, f.resident_id, f.hospital_name, f.state,"  # noqa: S608 - fixed parts
        " r.display_name, r.room, r.bed,"
        " t.at, t.action, t.from_state, t.to_state, t.staff_id, t.side, t.note"
        " FROM referral_transitions t JOIN referrals f USING (referral_id)"
        " LEFT JOIN residents r ON r.resident_id = f.resident_id"
        f" WHERE {scope[0]} AND t.at >= %s AND t.at <= %s"
        " AND (t.from_state IS NULL OR t.from_state <> t.to_state)"
        " ORDER BY t.transition_id LIMIT %s",
        [*scope[1], start, end, limit],
    )
    found: dict[int, MovedReferral] = {}
    for row in await cur.fetchall():
        referral = found.pop(row[0], None) or MovedReferral(*row[:7])
        referral.moves.append(Move(*row[7:]))
        found[row[0]] = referral  # re-inserted: the last moved ends up last
    return list(reversed(found.values()))
