"""SQL for sites, residents, devices and assignments (keyword-only, one statement each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection
from psycopg.rows import TupleRow, class_row


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: str
    site_id: str
    kind: str
    created_at: datetime
    retired_at: datetime | None
    resident_id: int | None


async def ensure_site(conn: AsyncConnection[TupleRow], *, site_id: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO sites (site_id, name) VALUES (%s, %s) ON CONFLICT (site_id) DO NOTHING",
        [site_id, name],
    )


async def ensure_unit(
    conn: AsyncConnection[TupleRow], *, site_id: str, unit_id: str, name: str
) -> None:
    await conn.execute(
        "INSERT INTO units (site_id, unit_id, name) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        [site_id, unit_id, name],
    )


async def site_exists(conn: AsyncConnection[TupleRow], *, site_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM sites WHERE site_id = %s", [site_id])
    return await cur.fetchone() is not None


async def create_resident(
    conn: AsyncConnection[TupleRow],
    *,
    site_id: str,
    unit_id: str,
    display_name: str,
    room: str | None = None,
    bed: str | None = None,
) -> int:
    cur = await conn.execute(
        "INSERT INTO residents (site_id, unit_id, display_name, room, bed)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING resident_id",
        [site_id, unit_id, display_name, room, bed],
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def resident_site(conn: AsyncConnection[TupleRow], *, resident_id: int) -> str | None:
    cur = await conn.execute("SELECT site_id FROM residents WHERE resident_id = %s", [resident_id])
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def insert_device(
    conn: AsyncConnection[TupleRow], *, device_id: str, site_id: str, kind: str, secret_hash: str
) -> None:
    await conn.execute(
        "INSERT INTO devices (device_id, site_id, kind, secret_hash) VALUES (%s, %s, %s, %s)",
        [device_id, site_id, kind, secret_hash],
    )


async def get_device(conn: AsyncConnection[TupleRow], *, device_id: str) -> DeviceRow | None:
    async with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        await cur.execute(
            "SELECT d.device_id, d.site_id, d.kind, d.created_at, d.retired_at, a.resident_id"
            " FROM devices d LEFT JOIN device_assignments a"
            "   ON a.device_id = d.device_id AND a.during @> now()"
            " WHERE d.device_id = %s",
            [device_id],
        )
        return await cur.fetchone()


async def assign_device(
    conn: AsyncConnection[TupleRow], *, device_id: str, resident_id: int | None, at: datetime
) -> None:
    """End the device's open assignment at `at` and, with a resident, open a new one there.

    Run inside a transaction. The past is kept: readings before `at` stay with whoever wore
    the device then.
    """
    await conn.execute(
        "UPDATE device_assignments SET during = tstzrange(lower(during), %s)"
        " WHERE device_id = %s AND during @> %s::timestamptz",
        [at, device_id, at],
    )
    # Re-assigning at the very instant the current assignment began replaces it.
    await conn.execute(
        "DELETE FROM device_assignments WHERE device_id = %s AND isempty(during)", [device_id]
    )
    if resident_id is not None:
        await conn.execute(
            "INSERT INTO device_assignments (device_id, resident_id, during)"
            " VALUES (%s, %s, tstzrange(%s, NULL))",
            [device_id, resident_id, at],
        )
