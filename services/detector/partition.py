"""A detector partition: the sites one detector owns, and what follows from them — its MQTT
client id (its own persistent session), its topic filters and its cursors over manual
observations and staff attendance.

Sites are never split between partitions, so every rule that spans residents (the outbreak
cluster, per unit of a site) sees all of its input in one process (docs/scaling.md).
Pure: parsed from the CLI options / settings, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rules.vocabulary import DATA_FILTER
from services.errors import ConfigError

BASE_CLIENT_ID = "carewatch-detector"
MANUAL_CURSOR = "cursor:manual"
STAFF_CURSOR = "cursor:staff"
SYMPTOM_CURSOR = "cursor:symptoms"
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # site ids (device protocol v1), partition names


@dataclass(frozen=True, slots=True)
class Partition:
    name: str | None  # None: the one detector of every site, as before partitions existed
    sites: frozenset[str]  # empty: every site

    @property
    def client_id(self) -> str:
        return BASE_CLIENT_ID if self.name is None else f"{BASE_CLIENT_ID}-{self.name}"

    @property
    def topic_filters(self) -> tuple[str, ...]:
        if not self.sites:
            return (DATA_FILTER,)
        return tuple(f"carewatch/v1/{site}/#" for site in sorted(self.sites))

    @property
    def cursor_key(self) -> str:
        return MANUAL_CURSOR if self.name is None else f"{MANUAL_CURSOR}:{self.name}"

    @property
    def staff_cursor_key(self) -> str:
        """Its position in `staff_attendance` (staff acting on alerts)."""
        return STAFF_CURSOR if self.name is None else f"{STAFF_CURSOR}:{self.name}"

    @property
    def symptom_cursor_key(self) -> str:
        """Its position in `symptom_observations` (symptoms charted on rounds)."""
        return SYMPTOM_CURSOR if self.name is None else f"{SYMPTOM_CURSOR}:{self.name}"

    def owns(self, site_id: str) -> bool:
        return not self.sites or site_id in self.sites


EVERY_SITE = Partition(None, frozenset())


def parse_partition(sites: str | None, name: str | None) -> Partition:
    """`--sites t1,t2 [--partition NAME]`; the name defaults to the sites joined by `_`.
    Give a stable name when a partition's sites may change: the name is its broker session
    and its cursor, which must survive the change."""
    if not sites or not sites.strip():
        if name:
            raise ConfigError("--partition needs --sites: a partition is a set of sites")
        return EVERY_SITE
    owned = frozenset(site.strip() for site in sites.split(",") if site.strip())
    bad = sorted(site for site in owned if not _ID.fullmatch(site))
    if bad:
        raise ConfigError(f"not a site id: {', '.join(bad)} (letters, digits, _ and -)")
    partition = name or "_".join(sorted(owned))
    if not _ID.fullmatch(partition):
        raise ConfigError(
            f"partition name {partition!r}: 1-64 letters, digits, _ and - (set --partition)"
        )
    return Partition(partition, owned)
