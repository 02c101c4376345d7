"""SQL for sites, residents, devices, assignments, device state and dead letters (keyword-only,
one statement each)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow, class_row

from rules.vocabulary import DEVICE_EVENT_TYPES, DEVICE_METRICS

# The metrics and event types a device's rows can carry, from the protocol's vocabulary: the
# last-seen look-up probes the (device, metric, ts) and (device, type, ts) indexes per value.
READING_METRICS: Final = tuple(sorted(DEVICE_METRICS))
EVENT_TYPES: Final = DEVICE_EVENT_TYPES


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: str
    site_id: str
    kind: str
    created_at: datetime
    retired_at: datetime | None
    resident_id: int | None
    placement: str | None = None


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
    conn: AsyncConnection[TupleRow],
    *,
    device_id: str,
    site_id: str,
    kind: str,
    secret_hash: str,
    placement: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO devices (device_id, site_id, kind, secret_hash, placement)"
        " VALUES (%s, %s, %s, %s, %s)",
        [device_id, site_id, kind, secret_hash, placement],
    )


_GET_DEVICE = (
    "SELECT d.device_id, d.site_id, d.kind, d.created_at, d.retired_at, a.resident_id,"
    " d.placement FROM devices d LEFT JOIN device_assignments a"
    "   ON a.device_id = d.device_id AND a.during @> now()"
    " WHERE d.device_id = %s"
)


async def get_device(
    conn: AsyncConnection[TupleRow], *, device_id: str, for_update: bool = False
) -> DeviceRow | None:
    """The device and whom it is assigned to now; `for_update` locks its row until the end of
    the transaction, so an assignment and a retirement of one device never interleave."""
    async with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        await cur.execute(
            _GET_DEVICE + (" FOR UPDATE OF d" if for_update else ""),
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


async def assignment_after(
    conn: AsyncConnection[TupleRow], *, device_id: str, at: datetime
) -> bool:
    """Whether some assignment of the device starts, or ended, after `at`: changing it at `at`
    would rewrite a past the stored readings were already attributed by."""
    cur = await conn.execute(
        "SELECT EXISTS (SELECT 1 FROM device_assignments WHERE device_id = %s"
        " AND (lower(during) > %s OR upper(during) > %s))",
        [device_id, at, at],
    )
    row = await cur.fetchone()
    return bool(row and row[0])


async def end_assignments(conn: AsyncConnection[TupleRow], *, device_id: str, at: datetime) -> None:
    """End the assignment running at `at` there, and drop any that would only start later."""
    await conn.execute(
        "WITH later AS (DELETE FROM device_assignments"
        "               WHERE device_id = %(device)s AND lower(during) >= %(at)s)"
        " UPDATE device_assignments SET during = tstzrange(lower(during), %(at)s)"
        " WHERE device_id = %(device)s AND lower(during) < %(at)s AND during @> %(at)s",
        {"device": device_id, "at": at},
    )


async def mark_retired(conn: AsyncConnection[TupleRow], *, device_id: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE devices SET retired_at = %s WHERE device_id = %s AND retired_at IS NULL",
        [at, device_id],
    )


@dataclass(frozen=True, slots=True)
class DeviceOverview:
    """A device as integrators see it: its state, and whom it is assigned to (an id only)."""

    device_id: str
    site_id: str
    kind: str
    created_at: datetime
    retired_at: datetime | None
    resident_id: int | None
    assigned_since: datetime | None
    online: bool
    last_seen: datetime | None
    battery: float | None
    fw: str | None
    placement: str | None = None
    # Why it is offline: "disconnected" (its last word was an offline status, the broker's
    # last will or its own), "silent" (nothing for `offline_after`), "retired"; None online or
    # never heard.
    offline_reason: str | None = None


# Data rows are looked up only this far back: a probe per metric per chunk is cheap for a
# week of chunks, and a device silent for longer than that is offline whichever it was.
LAST_SEEN_LOOKBACK: Final = timedelta(days=7)

# Each LATERAL takes the newest row through an index ordered by ts (or received_at); the
# last seen time is the latest receipt among them, rejected messages included (the device
# was heard). Online: not retired, heard within `offline_after`, and the last thing heard
# was not an offline status (the last will).
_OVERVIEW = """
WITH overview AS (
    SELECT d.device_id, d.site_id, d.kind, d.created_at, d.retired_at, d.placement,
           a.resident_id, lower(a.during) AS assigned_since,
           st.online AS status_online, st.received_at AS status_at,
           greatest(st.received_at, r.received_at, m.received_at, e.received_at,
                    dl.received_at) AS last_seen,
           bat.battery, fw.fw
    FROM devices d
    LEFT JOIN device_assignments a ON a.device_id = d.device_id AND a.during @> now()
    LEFT JOIN LATERAL (
        SELECT online, received_at FROM device_status s
        WHERE s.device_id = d.device_id ORDER BY ts DESC LIMIT 1) st ON true
    LEFT JOIN LATERAL (
        SELECT battery FROM device_status s
        WHERE s.device_id = d.device_id AND battery IS NOT NULL
        ORDER BY ts DESC LIMIT 1) bat ON true
    LEFT JOIN LATERAL (
        SELECT fw FROM device_status s
        WHERE s.device_id = d.device_id AND fw IS NOT NULL ORDER BY ts DESC LIMIT 1) fw ON true
    LEFT JOIN LATERAL (
        SELECT max(x.received_at) AS received_at
        FROM unnest(%(metrics)s::text[]) AS k(metric)
        CROSS JOIN LATERAL (
            SELECT received_at FROM readings r
            WHERE r.device_id = d.device_id AND r.metric = k.metric AND r.ts > %(since)s
            ORDER BY r.ts DESC LIMIT 1) x) r ON true
    LEFT JOIN LATERAL (
        SELECT received_at FROM motion_windows w
        WHERE w.device_id = d.device_id AND w.ts > %(since)s ORDER BY w.ts DESC LIMIT 1) m ON true
    LEFT JOIN LATERAL (
        SELECT max(x.received_at) AS received_at
        FROM unnest(%(types)s::text[]) AS k(type)
        CROSS JOIN LATERAL (
            SELECT received_at FROM device_events ev
            WHERE ev.device_id = d.device_id AND ev.type = k.type AND ev.ts > %(since)s
            ORDER BY ev.ts DESC LIMIT 1) x) e ON true
    LEFT JOIN LATERAL (
        SELECT received_at FROM dead_letters l
        WHERE l.device_id = d.device_id ORDER BY received_at DESC LIMIT 1) dl ON true
    WHERE (%(site)s::text IS NULL OR d.site_id = %(site)s)
      AND (%(kind)s::text IS NULL OR d.kind = %(kind)s)
      AND (%(retired)s::boolean IS NULL OR (d.retired_at IS NOT NULL) = %(retired)s)
      AND (%(ids)s::text[] IS NULL OR d.device_id = ANY(%(ids)s))
), reasoned AS (
    SELECT *, CASE WHEN retired_at IS NOT NULL THEN 'retired'
                   WHEN last_seen IS NULL THEN NULL
                   WHEN status_online IS FALSE AND status_at >= last_seen THEN 'disconnected'
                   WHEN last_seen <= now() - %(offline_after)s THEN 'silent'
              END AS offline_reason
    FROM overview
), judged AS (
    SELECT *, last_seen IS NOT NULL AND offline_reason IS NULL AS online FROM reasoned
)
SELECT device_id, site_id, kind, created_at, retired_at, resident_id, assigned_since, online,
       last_seen, battery, fw, placement, offline_reason
FROM judged
WHERE %(online)s::boolean IS NULL OR online = %(online)s
ORDER BY site_id, device_id
LIMIT %(limit)s OFFSET %(offset)s
"""


async def list_devices(
    conn: AsyncConnection[TupleRow],
    *,
    site_id: str | None = None,
    kind: str | None = None,
    online: bool | None = None,
    retired: bool | None = None,
    device_ids: Sequence[str] | None = None,
    offline_after: timedelta,
    limit: int,
    offset: int,
) -> list[DeviceOverview]:
    async with conn.cursor(row_factory=class_row(DeviceOverview)) as cur:
        await cur.execute(
            _OVERVIEW,
            {
                "metrics": list(READING_METRICS),
                "types": list(EVENT_TYPES),
                "since": datetime.now(UTC) - LAST_SEEN_LOOKBACK,
                "site": site_id,
                "kind": kind,
                "retired": retired,
                "ids": None if device_ids is None else list(device_ids),
                "online": online,
                "offline_after": offline_after,
                "limit": limit,
                "offset": offset,
            },
        )
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    id: int
    received_at: datetime
    topic: str
    reason: str
    detail: str
    head: bytes  # the first bytes of the stored payload, enough for a preview
    payload_size: int
    assigned: bool  # whether the device was assigned to a resident when it arrived


async def dead_letters(
    conn: AsyncConnection[TupleRow],
    *,
    device_id: str,
    since: datetime | None,
    limit: int,
    head_bytes: int,
) -> list[DeadLetterRow]:
    """The device's rejected messages, newest first."""
    async with conn.cursor(row_factory=class_row(DeadLetterRow)) as cur:
        await cur.execute(
            "SELECT l.id, l.received_at, l.topic, l.reason, l.detail,"
            "       substring(l.payload FROM 1 FOR %(head)s) AS head, l.payload_size,"
            "       EXISTS (SELECT 1 FROM device_assignments a WHERE a.device_id = l.device_id"
            "               AND a.during @> l.received_at) AS assigned"
            " FROM dead_letters l"
            " WHERE l.device_id = %(device)s"
            "   AND (%(since)s::timestamptz IS NULL OR l.received_at >= %(since)s)"
            " ORDER BY l.received_at DESC, l.id DESC LIMIT %(limit)s",
            {"device": device_id, "since": since, "limit": limit, "head": head_bytes},
        )
        return await cur.fetchall()
