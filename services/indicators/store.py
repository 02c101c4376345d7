"""The rows the indicators of some sites (one, or a region's) are computed from, read for a
window (the API's role reads them; incidents only through alerts_view, which carries their
acknowledgement)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow, dict_row

from services.indicators.figures import (
    AlertRow,
    IncidentRow,
    OutbreakRow,
    ReferralRow,
    ResidentRow,
    Rows,
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


async def load(conn: Conn, sites: Sequence[str], window: Window) -> Rows:
    """Every row the sites' figures in `window` need, in one snapshot."""
    args = {"sites": list(sites), "start": window.start, "end": window.end}
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        alerts = await _rows(conn, _ALERTS, args)
        incidents = await _rows(conn, _INCIDENTS, args)
        residents = await _rows(conn, _RESIDENTS, args)
        referrals = await _rows(conn, _REFERRALS, args)
        outbreaks = await _rows(conn, _OUTBREAKS, args)
        observed = await (await conn.execute(_OBSERVATIONS, args)).fetchone()
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
