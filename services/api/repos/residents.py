"""SQL of the residents router: admission profiles, their devices' latest state, the settings
that score NEWS2, and manual observations. Profiles come back as dicts keyed by `PROFILE`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, cast

from psycopg import AsyncConnection, errors
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from services.devices import repo as device_repo
from services.records import columns as record_columns

Conn = AsyncConnection[TupleRow]

_COLUMNS: Final = (
    "resident_id, site_id, unit_id, display_name, room, bed, conditions, fall_risk,"
    " news2_scale, timezone, rule_overrides, status, comfort_care, "
    + ", ".join(record_columns.COLUMNS)
)
PROFILE: Final = tuple(_COLUMNS.replace(" ", "").split(","))
# Each currently assigned device with its latest battery level and wear event.
_DEVICES: Final = """
SELECT a.resident_id, d.device_id, d.kind, s.battery, w.type
FROM device_assignments a
JOIN devices d USING (device_id)
LEFT JOIN LATERAL (SELECT battery FROM device_status st WHERE st.device_id = d.device_id
                   AND battery IS NOT NULL ORDER BY ts DESC LIMIT 1) s ON true
LEFT JOIN LATERAL (SELECT type FROM device_events e WHERE e.device_id = d.device_id
                   AND e.type IN ('wear_on', 'wear_off') ORDER BY ts DESC LIMIT 1) w ON true
WHERE a.resident_id = ANY(%s) AND upper_inf(a.during) AND d.retired_at IS NULL
ORDER BY d.device_id
"""


def _profile(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(PROFILE, row, strict=True))


async def place_of(conn: Conn, *, resident_id: int) -> tuple[str, str] | None:
    """The resident's site and unit, or None when there is no such resident."""
    cur = await conn.execute(
        "SELECT site_id, unit_id FROM residents WHERE resident_id = %s", [resident_id]
    )
    row = await cur.fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


async def list_profiles(
    conn: Conn, *, scope: tuple[str, Sequence[object]], limit: int, offset: int
) -> list[dict[str, Any]]:
    """The profiles in `scope` (a fixed fragment from Principal.place_sql), by unit, room and
    bed."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM residents WHERE {scope[0]}"  # noqa: S608 - fixed parts
        " ORDER BY site_id, unit_id, room NULLS LAST, bed NULLS LAST, resident_id"
        " LIMIT %s OFFSET %s",
        [*scope[1], limit, offset],
    )
    return [_profile(row) for row in await cur.fetchall()]


async def get_profile(conn: Conn, *, resident_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM residents WHERE resident_id = %s",  # noqa: S608 - fixed
        [resident_id],
    )
    row = await cur.fetchone()
    return None if row is None else _profile(row)


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A device assigned to a resident: online and last seen judged as on the devices' own list
    (services.devices.repo.list_devices), so no page can say "offline" of a device another
    page calls online; its latest battery and wear event (None: none)."""

    resident_id: int
    device_id: str
    kind: str
    online: bool
    offline_reason: str | None
    battery: float | None
    seen: datetime | None
    wear: str | None


async def devices_of(
    conn: Conn, *, resident_ids: Sequence[int], offline_after: timedelta
) -> list[DeviceRow]:
    """The devices now assigned to these residents, by device id."""
    cur = await conn.execute(_DEVICES, [list(resident_ids)])
    assigned = await cur.fetchall()
    if not assigned:
        return []
    states = {
        d.device_id: d
        for d in await device_repo.list_devices(
            conn,
            device_ids=[row[1] for row in assigned],
            offline_after=offline_after,
            limit=len(assigned),
            offset=0,
        )
    }
    out = []
    for resident_id, device_id, kind, battery, wear in assigned:
        state = states[device_id]
        out.append(
            DeviceRow(
                resident_id=resident_id,
                device_id=device_id,
                kind=kind,
                online=state.online,
                offline_reason=state.offline_reason,
                battery=battery,
                seen=state.last_seen,
                wear=wear,
            )
        )
    return out


async def unit_exists(conn: Conn, *, site_id: str, unit_id: str) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM units WHERE site_id = %s AND unit_id = %s", [site_id, unit_id]
    )
    return await cur.fetchone() is not None


async def site_overrides(conn: Conn, *, site_id: str) -> dict[str, Any] | None:
    """The site's rule overrides, or None when there is no such site."""
    cur = await conn.execute("SELECT rule_overrides FROM sites WHERE site_id = %s", [site_id])
    row = await cur.fetchone()
    return None if row is None else row[0]


async def insert_resident(
    conn: Conn,
    *,
    site_id: str,
    unit_id: str,
    display_name: str,
    room: str | None,
    bed: str | None,
    conditions: Sequence[str],
    fall_risk: bool,
    news2_scale: int,
    timezone: str,
    rule_overrides: Mapping[str, Any],
    record: Mapping[str, Any],
) -> dict[str, Any]:
    """Admit a resident; returns the stored profile. `record`: record columns (names from
    services/records/columns.py, never input) and their values."""
    names = ", ".join(record)
    marks = ", %s" * len(record)
    try:
        cur = await conn.execute(
            "INSERT INTO residents (site_id, unit_id, display_name, room, bed, conditions,"  # noqa: S608
            f" fall_risk, news2_scale, timezone, rule_overrides{', ' if record else ''}{names})"
            f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s{marks}) RETURNING " + _COLUMNS,
            [
                site_id,
                unit_id,
                display_name,
                room,
                bed,
                list(conditions),
                fall_risk,
                news2_scale,
                timezone,
                Jsonb(dict(rule_overrides)),
                *record.values(),
            ],
        )
    except errors.UniqueViolation as exc:
        raise _same_person(exc) from None
    row = await cur.fetchone()
    assert row is not None
    return _profile(row)


async def news2_scale(conn: Conn, *, resident_id: int) -> int | None:
    cur = await conn.execute(
        "SELECT news2_scale FROM residents WHERE resident_id = %s", [resident_id]
    )
    found = await cur.fetchone()
    return None if found is None else found[0]


async def update_profile(conn: Conn, *, resident_id: int, changes: Mapping[str, Any]) -> bool:
    """Set the given profile columns (names from the API's model, never from input). False,
    with nothing written, when the new unit does not exist at the resident's site."""
    values = [
        Jsonb(v) if name == "rule_overrides" and not isinstance(v, Jsonb) else v
        for name, v in changes.items()
    ]
    sets = ", ".join(f"{name} = %s" for name in changes)
    try:
        await conn.execute(
            f"UPDATE residents SET {sets} WHERE resident_id = %s",  # noqa: S608 - fixed names
            [*values, resident_id],
        )
    except errors.ForeignKeyViolation:
        return False
    except errors.UniqueViolation as exc:
        raise _same_person(exc) from None
    return True


# The index that keeps one record per person and site (migration 0026): hit only by two
# admissions of one person at once, the check before having passed for both.
SAME_PERSON_INDEX: Final = "residents_site_national_id_digest"


class SamePerson(Exception):
    """Another resident of the site was recorded with the same national ID meanwhile."""


def _same_person(exc: errors.UniqueViolation) -> Exception:
    return (
        SamePerson(str(exc.diag.constraint_name))
        if (exc.diag.constraint_name == SAME_PERSON_INDEX)
        else exc
    )


async def news2_settings(conn: Conn, *, resident_id: int) -> tuple[Literal[1, 2], Any, Any] | None:
    """The resident's NEWS2 scale, their site's and their own rule overrides (None: no such
    resident)."""
    cur = await conn.execute(
        "SELECT r.news2_scale, s.rule_overrides, r.rule_overrides"
        " FROM residents r JOIN sites s USING (site_id) WHERE r.resident_id = %s",
        [resident_id],
    )
    row = await cur.fetchone()
    return None if row is None else (cast(Literal[1, 2], row[0]), row[1], row[2])


async def record_observations(
    conn: Conn,
    *,
    resident_id: int,
    values: Mapping[str, float],
    ts: datetime,
    now: datetime,
    recorded_by: str,
) -> None:
    """One round's observations, as readings (source `manual`, one pseudo-device per resident
    keeps the readings' unique key per resident) and in the charted record. Call it in the
    caller's transaction."""
    for metric, value in values.items():
        await conn.execute(
            "INSERT INTO readings (ts, device_id, resident_id, metric, value, source,"
            " received_at) VALUES (%s, %s, %s, %s, %s, 'manual', %s)"
            " ON CONFLICT (device_id, metric, ts) DO UPDATE SET value = excluded.value",
            [ts, f"manual-{resident_id}", resident_id, metric, value, now],
        )
        await conn.execute(
            "INSERT INTO manual_observations (resident_id, metric, value, ts, recorded_by)"
            " VALUES (%s, %s, %s, %s, %s)",
            [resident_id, metric, value, ts, recorded_by],
        )
