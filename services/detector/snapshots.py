"""Detector state snapshots: one row per subject, written with the candidates it produced.

A row's `doc` is JSON (rules/state_codec.py) and its `version` the format version:
- `resident:<id>`: an object of the resident's rule states by `ResidentRules` field name (a
  field missing from it keeps its default when restored);
- `unit:<site>/<unit>`: the unit's `OutbreakState`;
- `cluster:<site>/<unit>/<syndrome>`: the unit's `ClusterState` of that syndrome;
- `sitecluster:<site>/<syndrome>`: the site's `SiteClusterState` of that syndrome;
- `cursor:...`: a position (an integer).
Format 1 is the binary format of earlier releases: the detector does not read it and refuses
to start while any is left (`carewatch upgrade-state`, upgrade/state.py, rewrites it as JSON).
A row of a newer format, or one that does not decode, is not loaded: the detector then starts
that subject afresh, and says so.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.engine import Engine, ResidentRules
from rules.outbreak import OutbreakState
from rules.outbreak_site import SiteClusterState
from rules.outbreak_syndromes import ClusterState
from rules.state_codec import Json, StateFormatError, decode, encode, upgrade
from rules.types import unit_subject
from services.errors import LegacyStateError

log = logging.getLogger("carewatch.detector")

LEGACY_VERSION = 1  # the binary format of earlier releases (upgrade/state.py)
STATE_VERSION = 2
# Converters between JSON formats: STEPS[v] turns a document of format v into one of v + 1.
STEPS: Mapping[int, Callable[[Json], Json]] = {}

# The rule states of a resident (its profile and configuration are re-read from the database).
RESIDENT_TYPES = {
    name: hint
    for name, hint in typing.get_type_hints(ResidentRules).items()
    if name not in ("profile", "config")
}


# What a snapshot keeps of a resident: the rule states, not the profile or configuration
# (those are re-read from the database, so an edited assessment applies after a restart).
STATE_FIELDS = (
    "latest",
    "vitals",
    "news2",
    "news2_at",
    "baseline",
    "fall",
    "bed",
    "wandering",
    "devices",
)


def resident_snapshot(rules: ResidentRules) -> dict[str, Any]:
    """What a snapshot keeps of one resident, by field name. The state values are immutable;
    the engine's two dicts (`latest`, `devices`) change in place, so they are copied: the
    snapshot is saved while the rules go on (services/detector/snapshot_writer.py)."""
    return {
        name: dict(value) if isinstance(value := getattr(rules, name), dict) else value
        for name in STATE_FIELDS
    }


def states_to_save(
    engine: Engine, dirty: Iterable[int], cursors: Mapping[str, int]
) -> dict[str, Any]:
    """What a snapshot saves, by subject: every resident changed since the last one, every
    unit, cluster and site cluster, and the partition's cursors (by their keys)."""
    states: dict[str, Any] = {
        f"resident:{rid}": resident_snapshot(engine.residents[rid])
        for rid in dirty
        if rid in engine.residents
    }
    states.update(cursors)
    for (site_id, unit_id), state in engine.units.items():
        states[unit_subject(site_id, unit_id)] = state
    for (site_id, unit_id, syndrome), cluster in engine.clusters.items():
        states[f"cluster:{site_id}/{unit_id}/{syndrome}"] = cluster
    for (site_id, of), site in engine.sites.items():
        states[f"sitecluster:{site_id}/{of}"] = site
    return states


_TYPES: Mapping[str, Any] = {
    "unit": OutbreakState,
    "cluster": ClusterState,
    "sitecluster": SiteClusterState,
    "cursor": int,
}


def _kind(subject: str) -> str:
    kind = subject.partition(":")[0]
    if kind not in ("resident", *_TYPES):
        raise StateFormatError(f"unknown subject kind {kind!r}")
    return kind


def encode_state(subject: str, state: Any) -> Json:
    kind = _kind(subject)
    if kind == "resident":
        return {name: encode(value, RESIDENT_TYPES[name]) for name, value in state.items()}
    return encode(state, _TYPES[kind])


def decode_state(subject: str, doc: Json) -> Any:
    kind = _kind(subject)
    if kind == "resident":
        if not isinstance(doc, dict) or not set(doc) <= set(RESIDENT_TYPES):
            raise StateFormatError(f"not a resident's state: {str(doc)[:80]}")
        return {name: decode(value, RESIDENT_TYPES[name]) for name, value in doc.items()}
    return decode(doc, _TYPES[kind])


Encoded = list[tuple[str, Jsonb]]  # (subject, document) rows


def encode_snapshots(states: Mapping[str, Any]) -> Encoded:
    return [(subject, Jsonb(encode_state(subject, state))) for subject, state in states.items()]


def save_encoded(conn: psycopg.Connection[Any], rows: Encoded, *, taken_at: datetime) -> None:
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO detector_snapshots (subject, version, doc, taken_at)"
            " VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (subject) DO UPDATE"
            " SET version = excluded.version, doc = excluded.doc, state = NULL,"
            "     taken_at = excluded.taken_at",
            [(subject, STATE_VERSION, doc, taken_at) for subject, doc in rows],
        )


def load_snapshots(conn: psycopg.Connection[TupleRow]) -> tuple[dict[str, Any], list[str]]:
    """The states saved, brought to this format, and the subjects whose snapshot was skipped.
    Raises LegacyStateError, loading nothing, while any row is in the binary format 1: saving
    over it would lose that subject's state."""
    states: dict[str, Any] = {}
    skipped: list[str] = []
    rows = conn.execute("SELECT subject, version, doc FROM detector_snapshots").fetchall()
    legacy = sorted(subject for subject, version, _ in rows if version == LEGACY_VERSION)
    if legacy:
        raise LegacyStateError(f"{len(legacy)} detector snapshot(s) ({', '.join(legacy[:3])}) are")
    for subject, version, doc in rows:
        try:
            states[subject] = decode_state(subject, upgrade(doc, version, STATE_VERSION, STEPS))
        except StateFormatError as e:
            log.warning("snapshot of %s (format %s) not loaded: %s", subject, version, e)
            skipped.append(subject)
    return states, skipped
