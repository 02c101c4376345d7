"""Putting a unit's snapshots back: its fever-cluster state (`unit:SITE/UNIT`) and its
syndromic clusters (`cluster:SITE/UNIT/SYNDROME`), and a site's clusters
(`sitecluster:SITE/SYNDROME`), each only for a site this partition owns and only when the row
holds the state of the subject it is stored under."""

from __future__ import annotations

import logging
from typing import Any

from rules.engine import Engine
from rules.outbreak_site import SITE_SYNDROMES
from rules.outbreak_syndromes import SYNDROMES
from services.detector.partition import Partition

log = logging.getLogger("carewatch.detector")


def restore_unit_state(engine: Engine, partition: Partition, subject: str, state: Any) -> None:
    kind, _, key = subject.partition(":")
    if kind == "sitecluster":
        site_id, _, syndrome = key.partition("/")
        if getattr(state, "key", None) not in (None, f"site:{key}"):
            log.error("snapshot %s holds the state of %s: not loaded", subject, state.key)
        elif partition.owns(site_id) and syndrome in SITE_SYNDROMES:
            engine.sites[(site_id, syndrome)] = state
    elif kind == "cluster":
        site_id, _, rest = key.partition("/")
        unit_id, _, syndrome = rest.rpartition("/")
        if getattr(state, "key", None) not in (None, f"unit:{key}"):
            log.error("snapshot %s holds the state of %s: not loaded", subject, state.key)
        elif partition.owns(site_id) and syndrome in SYNDROMES:
            engine.clusters[(site_id, unit_id, syndrome)] = state
    elif kind == "unit":
        site_id, _, unit_id = key.partition("/")
        if getattr(state, "unit", None) not in (None, subject):
            # A row copied under another unit's key (a restore gone wrong): its cluster would
            # be counted for the wrong unit, and the rule refuses it.
            log.error("snapshot %s holds the state of %s: not loaded", subject, state.unit)
        elif partition.owns(site_id):
            engine.units[(site_id, unit_id)] = state
