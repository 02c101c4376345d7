"""SQL of the resident-care router: goals of care (the comfort-care flag and its history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]


async def goals_of_care(conn: Conn, *, resident_id: int) -> tuple[bool, list[dict[str, Any]]]:
    """The flag now and every change of it, newest first."""
    cur = await conn.execute(
        "SELECT comfort_care FROM residents WHERE resident_id = %s", [resident_id]
    )
    row = await cur.fetchone()
    current = bool(row[0]) if row else False
    cur = await conn.execute(
        "SELECT comfort_care, reason, set_by, set_at FROM resident_goals_of_care"
        " WHERE resident_id = %s ORDER BY set_at DESC, id DESC",
        [resident_id],
    )
    history = [
        {"comfort_care": c, "reason": r, "set_by": b, "set_at": t}
        for c, r, b, t in await cur.fetchall()
    ]
    return current, history


async def set_comfort_care(
    conn: Conn, *, resident_id: int, comfort_care: bool, reason: str, set_by: str, now: datetime
) -> None:
    await conn.execute(
        "UPDATE residents SET comfort_care = %s WHERE resident_id = %s",
        [comfort_care, resident_id],
    )
    await conn.execute(
        "INSERT INTO resident_goals_of_care (resident_id, comfort_care, reason, set_by, set_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        [resident_id, comfort_care, reason, set_by, now],
    )


async def status_of(conn: Conn, *, resident_id: int) -> str:
    cur = await conn.execute("SELECT status FROM residents WHERE resident_id = %s", [resident_id])
    row = await cur.fetchone()
    return str(row[0]) if row else "admitted"


async def status_history(conn: Conn, *, resident_id: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        "SELECT status, note, set_by, set_at FROM resident_status_history"
        " WHERE resident_id = %s ORDER BY set_at DESC, id DESC",
        [resident_id],
    )
    return [
        {"status": s, "note": n, "set_by": b, "set_at": t} for s, n, b, t in await cur.fetchall()
    ]


async def set_status(
    conn: Conn, *, resident_id: int, status: str, note: str, set_by: str, now: datetime
) -> None:
    await conn.execute(
        "UPDATE residents SET status = %s WHERE resident_id = %s", [status, resident_id]
    )
    await conn.execute(
        "INSERT INTO resident_status_history (resident_id, status, note, set_by, set_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        [resident_id, status, note, set_by, now],
    )


async def release_devices(conn: Conn, *, resident_id: int, at: datetime) -> list[str]:
    """End the resident's open device assignments at `at` (the past stays theirs); returns the
    devices released, free to be assigned to someone else."""
    cur = await conn.execute(
        "UPDATE device_assignments SET during = tstzrange(lower(during), %s)"
        " WHERE resident_id = %s AND upper_inf(during) AND lower(during) < %s"
        " RETURNING device_id",
        [at, resident_id, at],
    )
    released = sorted(str(d) for (d,) in await cur.fetchall())
    # One that began at this very instant is simply undone.
    cur = await conn.execute(
        "DELETE FROM device_assignments WHERE resident_id = %s AND upper_inf(during)"
        " RETURNING device_id",
        [resident_id],
    )
    return sorted({*released, *(str(d) for (d,) in await cur.fetchall())})


async def consents(conn: Conn, *, resident_id: int) -> list[dict[str, Any]]:
    """Every consent recorded, newest first (the first of a kind is the one in force)."""
    cur = await conn.execute(
        "SELECT kind, granted, recorded_by, recorded_at FROM resident_consents"
        " WHERE resident_id = %s ORDER BY recorded_at DESC, id DESC",
        [resident_id],
    )
    return [
        {"kind": k, "granted": g, "recorded_by": b, "recorded_at": t}
        for k, g, b, t in await cur.fetchall()
    ]


async def record_consents(
    conn: Conn, *, resident_id: int, given: dict[str, bool], recorded_by: str, now: datetime
) -> None:
    for kind, granted in sorted(given.items()):
        await conn.execute(
            "INSERT INTO resident_consents (resident_id, kind, granted, recorded_by, recorded_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            [resident_id, kind, granted, recorded_by, now],
        )


async def consented(conn: Conn, *, resident_id: int, kind: str) -> bool:
    """Whether the resident's newest consent of `kind` is a yes (no record: no)."""
    cur = await conn.execute(
        "SELECT granted FROM resident_consents WHERE resident_id = %s AND kind = %s"
        " ORDER BY recorded_at DESC, id DESC LIMIT 1",
        [resident_id, kind],
    )
    row = await cur.fetchone()
    return bool(row and row[0])
