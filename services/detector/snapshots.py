"""Detector state snapshots: one row per subject, written with the candidates it produced.

A row's `doc` is JSON (rules/state_codec.py) and its `version` the format version:
- `resident:<id>`: an object of the resident's rule states by `ResidentRules` field name (a
  field missing from it keeps its default when restored);
- `unit:<site>/<unit>`: the unit's `OutbreakState`;
- `cursor:...`: a position (an integer).
Format 1 is the binary format of earlier releases, read once (by the fenced legacy reader)
and rewritten as JSON. A row of a newer format, or one that does not decode, is not loaded: the
detector then starts that subject afresh, and says so.
"""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.engine import ResidentRules
from rules.outbreak import OutbreakState
from rules.state_codec import Json, StateFormatError, dataclasses_in, decode, encode, upgrade
from services.legacy_pickle import LegacyStateRefused, read_legacy

log = logging.getLogger("carewatch.detector")

LEGACY_VERSION = 1  # the binary format of earlier releases
STATE_VERSION = 2
# Converters between JSON formats: STEPS[v] turns a document of format v into one of v + 1.
STEPS: Mapping[int, Callable[[Json], Json]] = {}

# The rule states of a resident (its profile and configuration are re-read from the database).
_RESIDENT = {
    name: hint
    for name, hint in typing.get_type_hints(ResidentRules).items()
    if name not in ("profile", "config")
}
_LEGACY_CLASSES = dataclasses_in(OutbreakState).union(
    *(dataclasses_in(hint) for hint in _RESIDENT.values())
)


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
    """What a snapshot keeps of one resident, by field name."""
    return {name: getattr(rules, name) for name in STATE_FIELDS}


def _kind(subject: str) -> str:
    kind = subject.partition(":")[0]
    if kind not in ("resident", "unit", "cursor"):
        raise StateFormatError(f"unknown subject kind {kind!r}")
    return kind


def encode_state(subject: str, state: Any) -> Json:
    kind = _kind(subject)
    if kind == "resident":
        return {name: encode(value, _RESIDENT[name]) for name, value in state.items()}
    return encode(state, OutbreakState if kind == "unit" else int)


def decode_state(subject: str, doc: Json) -> Any:
    kind = _kind(subject)
    if kind == "resident":
        if not isinstance(doc, dict) or not set(doc) <= set(_RESIDENT):
            raise StateFormatError(f"not a resident's state: {str(doc)[:80]}")
        return {name: decode(value, _RESIDENT[name]) for name, value in doc.items()}
    return decode(doc, OutbreakState if kind == "unit" else int)


def save_snapshots(
    conn: psycopg.Connection[TupleRow], states: Mapping[str, Any], *, taken_at: datetime
) -> None:
    if not states:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO detector_snapshots (subject, version, doc, taken_at)"
            " VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (subject) DO UPDATE"
            " SET version = excluded.version, doc = excluded.doc, state = NULL,"
            "     taken_at = excluded.taken_at",
            [
                (subject, STATE_VERSION, Jsonb(encode_state(subject, state)), taken_at)
                for subject, state in states.items()
            ],
        )


def _read_legacy(subject: str, blob: bytes) -> Json:
    kind = _kind(subject)
    expect = {"resident": dict, "unit": OutbreakState, "cursor": int}[kind]
    value = read_legacy(blob, _LEGACY_CLASSES, expect)
    return encode_state(subject, value)


def load_snapshots(conn: psycopg.Connection[TupleRow]) -> tuple[dict[str, Any], list[str]]:
    """The states saved, brought to this format, and the subjects whose snapshot was skipped.
    Legacy rows are rewritten as JSON here, once."""
    states: dict[str, Any] = {}
    skipped: list[str] = []
    rewrite: list[tuple[Jsonb, str]] = []
    rows = conn.execute("SELECT subject, version, state, doc FROM detector_snapshots").fetchall()
    for subject, version, blob, doc in rows:
        try:
            if version == LEGACY_VERSION:
                doc = _read_legacy(subject, blob)
                version = STATE_VERSION
                rewrite.append((Jsonb(doc), subject))
            states[subject] = decode_state(subject, upgrade(doc, version, STATE_VERSION, STEPS))
        except (StateFormatError, LegacyStateRefused) as e:
            log.warning("snapshot of %s (format %s) not loaded: %s", subject, version, e)
            skipped.append(subject)
    if rewrite:
        with conn.transaction():
            # Only rows still legacy: another partition may have rewritten one meanwhile.
            conn.cursor().executemany(
                "UPDATE detector_snapshots SET version = %s, doc = %s, state = NULL"
                " WHERE subject = %s AND version = %s",
                [(STATE_VERSION, doc, subject, LEGACY_VERSION) for doc, subject in rewrite],
            )
        log.info("%d legacy snapshots rewritten as JSON (format %d)", len(rewrite), STATE_VERSION)
    return states, skipped
