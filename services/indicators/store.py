"""The rows the indicators of some sites (one, or a region's) are computed from, read for a
window (the API's role reads them; incidents only through alerts_view, which carries their
acknowledgement)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow, dict_row

from services.indicators.figures import (
    AlertRow,
    DeviceRow,
    IncidentRow,
    OutbreakRow,
    ReferralRow,
    ResidentRow,
    Rows,
    ScheduleRow,
    Window,
)

Conn = AsyncConnection[TupleRow]

# An incident opens with its first alert; its escalations and the steps that found nobody on
# duty (a first page of a step with no recipient) are on its timeline.
_INCIDENTS = """
SELECT min(a.opened_at) AS opened_at, min(a.acknowledged_at) AS acknowledged_at,
       (SELECT count(*) FROM alert_events e
         WHERE e.incident_id = a.incident_id AND e.kind = 'EscalatedEvent') AS escalations,
       (SELECT count(DISTINCT e.data->'step') FROM alert_events e
         WHERE e.incident_id = a.incident_id AND e.kind = 'NotifiedEvent'
           AND e.data->'recipients' = '[]'::jsonb
           AND NOT coalesce((e.data->>'renotify')::boolean, false)) AS unstaffed_steps
FROM alerts_view a WHERE a.site_id = ANY(%(sites)s)
GROUP BY a.incident_id
HAVING min(a.opened_at) >= %(start)s AND min(a.opened_at) < %(end)s
"""
_ALERTS = """
SELECT rule_id, opened_at, resolved_at, outcome, incident_id FROM alerts_view
WHERE site_id = ANY(%(sites)s) AND opened_at >= %(start)s AND opened_at < %(end)s
"""
_RESIDENTS = """
SELECT r.created_at AS admitted_at, r.ability_level, r.conditions,
       coalesce((SELECT array_agg(h.status ORDER BY h.set_at, h.id)
                   FROM resident_status_history h WHERE h.resident_id = r.resident_id),
                '{}') AS history,
       coalesce((SELECT array_agg(h.set_at ORDER BY h.set_at, h.id)
                   FROM resident_status_history h WHERE h.resident_id = r.resident_id),
                '{}') AS history_at
FROM residents r WHERE r.site_id = ANY(%(sites)s) AND r.created_at < %(end)s
"""
_REFERRALS = """
SELECT * FROM (
  SELECT (SELECT min(t.at) FROM referral_transitions t
           WHERE t.referral_id = f.referral_id AND t.to_state = 'requested') AS requested_at,
         (SELECT min(t.at) FROM referral_transitions t
           WHERE t.referral_id = f.referral_id AND t.to_state IN ('accepted', 'declined'))
           AS answered_at,
         (SELECT min(t.at) FROM referral_transitions t
           WHERE t.referral_id = f.referral_id AND t.to_state = 'returned') AS returned_at
  FROM referrals f WHERE f.site_id = ANY(%(sites)s)
) x
WHERE (requested_at >= %(start)s AND requested_at < %(end)s)
   OR (returned_at >= %(start)s AND returned_at < %(end)s)
"""
# Drills are not outbreaks.
_OUTBREAKS = """
SELECT syndrome, opened_at, reported_at, status FROM outbreaks
WHERE site_id = ANY(%(sites)s) AND NOT drill AND opened_at >= %(start)s AND opened_at < %(end)s
"""
# A set of observations is what one person charted for a resident at one time.
_OBSERVATIONS = """
SELECT count(DISTINCT (o.resident_id, o.ts)) FROM manual_observations o
JOIN residents r USING (resident_id)
WHERE r.site_id = ANY(%(sites)s) AND o.ts >= %(start)s AND o.ts < %(end)s
"""

# Devices of the sites that existed some time in the window.
_DEVICES = """
SELECT device_id, kind, created_at, retired_at FROM devices
WHERE site_id = ANY(%(sites)s) AND created_at < %(end)s
  AND (retired_at IS NULL OR retired_at > %(start)s)
"""
# Online as the devices API has it (services/devices/repo.py), from the presence spans the
# ingest worker keeps (migration 0034, ingest/presence.py): a span is online from its first
# message until its last one heard plus `after`, or only until that one if it ended with an
# offline status. Only spans that may reach into [lo, hi): a few rows per device and episode.
_SPANS = """
SELECT device_id, since,
       CASE WHEN ended THEN last_heard ELSE last_heard + %(after)s END AS until
FROM device_presence
WHERE device_id = ANY(%(ids)s) AND since < %(hi)s AND last_heard >= %(lo)s
ORDER BY device_id, since
"""
# Wear events in the window, and the last one before it (the state it started in).
_WEAR = """
SELECT device_id, ts, type = 'wear_on' AS worn FROM (
  SELECT device_id, ts, type FROM device_events
   WHERE device_id = ANY(%(ids)s) AND type IN ('wear_on', 'wear_off')
     AND ts >= %(start)s AND ts < %(end)s
  UNION ALL
  SELECT d.id, w.ts, w.type FROM unnest(%(ids)s::text[]) AS d(id)
  CROSS JOIN LATERAL (
    SELECT ts, type FROM device_events e
     WHERE e.device_id = d.id AND e.type IN ('wear_on', 'wear_off') AND e.ts < %(start)s
     ORDER BY ts DESC LIMIT 1) w
) x ORDER BY device_id, ts
"""
# Active schedules of the sites' residents (an ended one keeps no date it ended on), the last
# visit before the window, and the visits from its start until one interval after its end
# (a round due at the end may be done that late).
_SCHEDULES = """
SELECT s.kind, s.starts_at, make_interval(hours => s.interval_hours) AS interval,
       (SELECT max(v.done_at) FROM visits v
         WHERE v.schedule_id = s.schedule_id AND v.done_at < %(start)s) AS done_before,
       coalesce((SELECT array_agg(v.done_at ORDER BY v.done_at) FROM visits v
         WHERE v.schedule_id = s.schedule_id AND v.done_at >= %(start)s
           AND v.done_at < %(end)s + make_interval(hours => s.interval_hours)), '{}') AS done
FROM visit_schedules s JOIN residents r USING (resident_id)
WHERE r.site_id = ANY(%(sites)s) AND s.active AND s.starts_at < %(end)s
"""


async def _devices(
    conn: Conn, args: dict[str, Any], offline_after: timedelta, now: datetime
) -> list[DeviceRow]:
    devices = await _rows(conn, _DEVICES, args)
    ids = [d["device_id"] for d in devices]
    online_args = args | {
        "ids": ids,
        "lo": args["start"] - offline_after,
        "hi": min(args["end"], now),
        "after": offline_after,
    }
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for r in await _rows(conn, _SPANS, online_args):
        spans[r["device_id"]].append((r["since"], r["until"]))
    online = {d: _covered(s, args["start"], online_args["hi"]) for d, s in spans.items()}
    wear: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
    for w in await _rows(conn, _WEAR, args | {"ids": ids}):
        wear[w["device_id"]].append((w["ts"], w["worn"]))
    return [
        DeviceRow(
            kind=d["kind"],
            created_at=d["created_at"],
            retired_at=d["retired_at"],
            online_s=online.get(d["device_id"], 0.0),
            wear=wear[d["device_id"]],
        )
        for d in devices
    ]


def _covered(spans: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> float:
    """Seconds of [start, end) inside the spans (sorted by start). Several ingest workers may
    each keep a span of the same device (a shared subscription splits its messages): they
    overlap, and the time is counted once."""
    total, reached = 0.0, start
    for since, until in spans:
        since, until = max(since, reached), min(until, end)
        if until > since:
            total += (until - since).total_seconds()
            reached = until
    return total


async def _rows(conn: Conn, sql: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, args)
        return await cur.fetchall()


async def site_region(conn: Conn, site: str) -> tuple[bool, str | None]:
    """Whether the site exists, and its region (None: in none)."""
    cur = await conn.execute("SELECT region_id FROM sites WHERE site_id = %s", [site])
    row = await cur.fetchone()
    return (False, None) if row is None else (True, row[0])


async def region_sites(conn: Conn, region: str) -> list[str] | None:
    """The sites of a region (None: no such region)."""
    cur = await conn.execute(
        "SELECT coalesce((SELECT array_agg(s.site_id ORDER BY s.site_id) FROM sites s"
        " WHERE s.region_id = g.region_id), '{}') FROM regions g WHERE g.region_id = %s",
        [region],
    )
    row = await cur.fetchone()
    return None if row is None else list(row[0])


async def load(
    conn: Conn, sites: Sequence[str], window: Window, *, offline_after: timedelta, now: datetime
) -> Rows:
    """Every row the sites' figures in `window` need, in one snapshot (`offline_after`: when
    a silent device is offline; nothing is counted online after `now`)."""
    args = {"sites": list(sites), "start": window.start, "end": window.end}
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        alerts = await _rows(conn, _ALERTS, args)
        incidents = await _rows(conn, _INCIDENTS, args)
        residents = await _rows(conn, _RESIDENTS, args)
        referrals = await _rows(conn, _REFERRALS, args)
        outbreaks = await _rows(conn, _OUTBREAKS, args)
        observed = await (await conn.execute(_OBSERVATIONS, args)).fetchone()
        devices = await _devices(conn, args, offline_after, now)
        schedules = await _rows(conn, _SCHEDULES, args)
    return Rows(
        alerts=[AlertRow(**a) for a in alerts],
        incidents=[IncidentRow(**i) for i in incidents],
        residents=[
            ResidentRow(
                admitted_at=r["admitted_at"],
                history=list(zip(r["history_at"], r["history"], strict=True)),
                ability_level=r["ability_level"],
                conditions=frozenset(r["conditions"]),
            )
            for r in residents
        ],
        referrals=[ReferralRow(**f) for f in referrals],
        outbreaks=[OutbreakRow(**o) for o in outbreaks],
        observations=int(observed[0]) if observed else 0,
        devices=devices,
        schedules=[ScheduleRow(**s) for s in schedules],
    )


# A case file as a regulator sees it: no names, no notes.
_FILES = """
SELECT o.outbreak_id, o.site_id, o.unit_id, o.syndrome, o.status, o.drill, o.opened_at,
       o.reported_at, o.reported_to, o.reference, o.closed_at,
       count(c.person_id) FILTER (WHERE c.person_kind = 'resident') AS residents,
       count(c.person_id) FILTER (WHERE c.person_kind = 'staff') AS staff
FROM outbreaks o LEFT JOIN outbreak_cases c USING (outbreak_id)
WHERE o.site_id = ANY(%(sites)s) AND o.opened_at >= %(start)s AND o.opened_at < %(end)s
GROUP BY o.outbreak_id ORDER BY o.opened_at, o.outbreak_id
"""


async def outbreak_files(conn: Conn, sites: Sequence[str], window: Window) -> list[dict[str, Any]]:
    """The sites' case files opened in `window`, with how many residents and staff each has."""
    args = {"sites": list(sites), "start": window.start, "end": window.end}
    return await _rows(conn, _FILES, args)
