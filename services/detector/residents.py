"""Who a device's readings belong to, and what the rules must know about that resident.

Both come from the database and change rarely (a re-assignment, an edited admission
assessment): they are cached and re-read every `refresh_s`, and on a miss.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow

from rules.config import merge
from rules.types import ResidentProfile


@dataclass(frozen=True, slots=True)
class Assignment:
    resident_id: int
    start: datetime
    end: datetime | None  # None: still assigned

    def covers(self, ts: datetime) -> bool:
        return self.start <= ts and (self.end is None or ts < self.end)


_jitter = random.Random()  # noqa: S311 - spreading refreshes over time, not security


def spread(interval_s: float) -> float:
    """A refresh interval between half and all of `interval_s`: entries loaded together (at
    start) do not all expire in the same second, which stalled the detector for a moment
    every minute with thousands of residents."""
    return interval_s * _jitter.uniform(0.5, 1.0)


class Attribution:
    """`resident_at(device_id, ts)`: the resident the device was assigned to at `ts`.

    Every device's assignments are read in one query every `refresh_s`, and a device not seen
    in the last read (provisioned since) on its own. Read per device, with each entry expiring
    on its own, they cost a round trip per device per interval on the detector's one thread:
    at 4,000 devices a fifth of its time (bench/load.py)."""

    def __init__(
        self,
        load_one: Callable[[str], list[Assignment]],
        load_all: Callable[[], dict[str, list[Assignment]]],
        clock: Callable[[], float],
        *,
        refresh_s: float = 30.0,
    ) -> None:
        self._load_one = load_one
        self._load_all = load_all
        self._clock = clock
        self._refresh_s = refresh_s
        self._cache: dict[str, list[Assignment]] = {}
        self._expires = float("-inf")

    def resident_at(self, device_id: str, ts: datetime) -> int | None:
        now = self._clock()
        if now >= self._expires:
            self._cache = self._load_all()
            self._expires = now + self._refresh_s
        assignments = self._cache.get(device_id)
        if assignments is None:
            assignments = self._cache[device_id] = self._load_one(device_id)
        for assignment in assignments:
            if assignment.covers(ts):
                return assignment.resident_id
        return None


_ASSIGNMENTS = "SELECT device_id, resident_id, lower(during), upper(during) FROM device_assignments"


def load_assignments(conn: psycopg.Connection[TupleRow], device_id: str) -> list[Assignment]:
    rows = conn.execute(_ASSIGNMENTS + " WHERE device_id = %s", [device_id]).fetchall()
    return [Assignment(int(r), start, end) for _d, r, start, end in rows]


def load_all_assignments(conn: psycopg.Connection[TupleRow]) -> dict[str, list[Assignment]]:
    out: dict[str, list[Assignment]] = {}
    for device_id, resident_id, start, end in conn.execute(_ASSIGNMENTS):
        out.setdefault(str(device_id), []).append(Assignment(int(resident_id), start, end))
    return out


@dataclass(frozen=True, slots=True)
class ResidentRecord:
    profile: ResidentProfile
    overrides: dict[str, Any]  # the site's rule overrides, then the resident's, merged


def load_resident(conn: psycopg.Connection[TupleRow], resident_id: int) -> ResidentRecord | None:
    row = conn.execute(
        "SELECT r.site_id, r.unit_id, r.conditions, r.fall_risk, r.news2_scale, r.timezone,"
        " s.rule_overrides, r.rule_overrides"
        " FROM residents r JOIN sites s USING (site_id) WHERE r.resident_id = %s",
        [resident_id],
    ).fetchone()
    if row is None:
        return None
    site_id, unit_id, conditions, fall_risk, scale, tz, site_over, own_over = row
    profile = ResidentProfile(
        resident_id=resident_id,
        site_id=site_id,
        unit_id=unit_id,
        conditions=frozenset(conditions),
        fall_risk=fall_risk,
        news2_scale=2 if scale == 2 else 1,
        timezone=tz,
    )
    return ResidentRecord(profile, merge(site_over or {}, own_over or {}))
