"""Who a device's readings belong to, where it is worn, and what the rules must know about
that resident.

Both come from the database and change rarely (a re-assignment, an edited admission
assessment): they are read for everyone at once every `refresh_s`, and one by one on a miss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import psycopg
from psycopg.rows import TupleRow

from rules.engine import RulesConfig
from rules.fall_placement import PLACEMENTS, Placement
from rules.types import ResidentProfile
from services.resident_rules import effective_rules

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Assignment:
    resident_id: int
    start: datetime
    end: datetime | None  # None: still assigned

    def covers(self, ts: datetime) -> bool:
        return self.start <= ts and (self.end is None or ts < self.end)


class BulkCache(Generic[K, V]):
    """Values read for every key in one query every `refresh_s`, and a key missing from the
    last read (added since) on its own. Read one by one, each entry expiring on its own, they
    cost a round trip per key per interval on the detector's one thread: at 4,000 devices and
    2,000 residents, a third of its time (bench/load.py)."""

    def __init__(
        self,
        load_one: Callable[[K], V],
        load_all: Callable[[], dict[K, V]],
        clock: Callable[[], float],
        *,
        refresh_s: float,
    ) -> None:
        self._load_one = load_one
        self._load_all = load_all
        self._clock = clock
        self._refresh_s = refresh_s
        self._values: dict[K, V] = {}
        self._expires = float("-inf")

    def get(self, key: K) -> V:
        now = self._clock()
        if now >= self._expires:
            self._values = self._load_all()
            self._expires = now + self._refresh_s
        if key not in self._values:
            self._values[key] = self._load_one(key)
        return self._values[key]


class Attribution:
    """`resident_at(device_id, ts)`: the resident the device was assigned to at `ts`."""

    def __init__(
        self,
        load_one: Callable[[str], list[Assignment]],
        load_all: Callable[[], dict[str, list[Assignment]]],
        clock: Callable[[], float],
        *,
        refresh_s: float = 30.0,
    ) -> None:
        self._assignments = BulkCache(load_one, load_all, clock, refresh_s=refresh_s)

    def resident_at(self, device_id: str, ts: datetime) -> int | None:
        for assignment in self._assignments.get(device_id):
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


class Placements:
    """`of(device_id)`: where the device is worn. Its record (provisioning) says so first; a
    device provisioned without one is taken at its word, from its latest status that declared
    one (kept in memory: after a restart, until it declares again, it has none)."""

    def __init__(
        self,
        load_one: Callable[[str], Placement | None],
        load_all: Callable[[], dict[str, Placement | None]],
        clock: Callable[[], float],
        *,
        refresh_s: float = 30.0,
    ) -> None:
        self._records = BulkCache(load_one, load_all, clock, refresh_s=refresh_s)
        self._declared: dict[str, Placement] = {}

    def declare(self, device_id: str, placement: Placement) -> None:
        self._declared[device_id] = placement

    def of(self, device_id: str) -> Placement | None:
        return self._records.get(device_id) or self._declared.get(device_id)


_PLACEMENTS = "SELECT device_id, placement FROM devices"


def _placement(value: object) -> Placement | None:
    # The column's CHECK admits only these; anything else would be a schema drift: ignore it.
    return next((p for p in PLACEMENTS if p == value), None)


def load_placement(conn: psycopg.Connection[TupleRow], device_id: str) -> Placement | None:
    row = conn.execute(_PLACEMENTS + " WHERE device_id = %s", [device_id]).fetchone()
    return None if row is None else _placement(row[1])


def load_placements(conn: psycopg.Connection[TupleRow]) -> dict[str, Placement | None]:
    return {str(d): _placement(p) for d, p in conn.execute(_PLACEMENTS)}


@dataclass(frozen=True, slots=True)
class ResidentRecord:
    profile: ResidentProfile
    # The defaults, the site's overrides, then the resident's, each layer validated
    # (services/resident_rules.py: the API and referrals score with the same).
    config: RulesConfig


# Only residents admitted are monitored: one in hospital (paused), discharged or deceased
# (ended) is no resident to the rules, and raises nothing new.
_RESIDENTS = (
    "SELECT r.resident_id, r.site_id, r.unit_id, r.conditions, r.fall_risk, r.news2_scale,"
    " r.timezone, s.rule_overrides, r.rule_overrides FROM residents r JOIN sites s USING (site_id)"
    " WHERE r.status = 'admitted'"
)


def load_resident(
    conn: psycopg.Connection[TupleRow], resident_id: int, base: RulesConfig | None = None
) -> ResidentRecord | None:
    row = conn.execute(_RESIDENTS + " AND r.resident_id = %s", [resident_id]).fetchone()
    return None if row is None else _record(row, base)


def load_residents(
    conn: psycopg.Connection[TupleRow], sites: frozenset[str], base: RulesConfig | None = None
) -> dict[int, ResidentRecord | None]:
    """Every resident admitted at `sites` (empty: at every site)."""
    rows = (
        conn.execute(_RESIDENTS + " AND r.site_id = ANY(%s)", [sorted(sites)])
        if sites
        else conn.execute(_RESIDENTS)
    )
    return {int(row[0]): _record(row, base) for row in rows}


def _record(row: tuple[Any, ...], base: RulesConfig | None) -> ResidentRecord:
    resident_id, site_id, unit_id, conditions, fall_risk, scale, tz, site_over, own_over = row
    profile = ResidentProfile(
        resident_id=int(resident_id),
        site_id=site_id,
        unit_id=unit_id,
        conditions=frozenset(conditions),
        fall_risk=fall_risk,
        news2_scale=2 if scale == 2 else 1,
        timezone=tz,
    )
    config = effective_rules(site_over, own_over, resident_id=int(resident_id), base=base)
    return ResidentRecord(profile, config)
