"""`carewatch upgrade-state`: rewrite the detector snapshots and the alert book that releases
before the JSON format stored pickled (format 1) as JSON, once. A second run finds nothing to
do. All or nothing: a row the legacy reader refuses (not plain state, or unreadable) stops the
upgrade with its subject named, and no row is changed, so no state is dropped silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from rules.outbreak import OutbreakState
from rules.state_codec import Json, StateFormatError, dataclasses_in, encode
from services.alerts import store
from services.alerts.model import AlertBook
from services.detector import snapshots
from services.detector.snapshots import RESIDENT_TYPES, encode_state
from upgrade.legacy_pickle import LegacyStateRefused, read_legacy

log = logging.getLogger("carewatch.upgrade")

Conn = psycopg.Connection[TupleRow]

# Every class a legacy snapshot may hold: the outbreak state and each resident rule state.
SNAPSHOT_CLASSES = dataclasses_in(OutbreakState).union(
    *(dataclasses_in(hint) for hint in RESIDENT_TYPES.values())
)


class UpgradeRefused(Exception):
    """Legacy rows that cannot be upgraded (each named): nothing was rewritten."""


@dataclass(frozen=True)
class Upgraded:
    snapshots: int  # detector snapshots rewritten
    book: bool  # the alert book rewritten


def snapshot_doc(subject: str, blob: bytes) -> Json:
    """A legacy snapshot row's state as the JSON document of today's format."""
    kind = subject.partition(":")[0]
    expect = {"resident": dict, "unit": OutbreakState, "cursor": int}.get(kind)
    if expect is None:
        raise StateFormatError(f"unknown subject kind {kind!r}")
    value = read_legacy(blob, SNAPSHOT_CLASSES, expect)
    if kind == "resident" and not set(value) <= set(RESIDENT_TYPES):
        raise StateFormatError(f"unknown rule states {sorted(set(value) - set(RESIDENT_TYPES))}")
    return encode_state(subject, value)


def book_doc(blob: bytes) -> Json:
    return encode(read_legacy(blob, dataclasses_in(AlertBook), AlertBook), AlertBook)


def _upgrade_snapshots(conn: Conn) -> tuple[list[tuple[Jsonb, str]], list[str]]:
    rows = conn.execute(
        "SELECT subject, state FROM detector_snapshots WHERE version = %s FOR UPDATE",
        [snapshots.LEGACY_VERSION],
    ).fetchall()
    docs: list[tuple[Jsonb, str]] = []
    refused: list[str] = []
    for subject, blob in rows:
        try:
            docs.append((Jsonb(snapshot_doc(subject, blob)), subject))
        except (StateFormatError, LegacyStateRefused) as e:
            refused.append(f"detector snapshot {subject}: {e}")
    conn.cursor().executemany(
        "UPDATE detector_snapshots SET version = %s, doc = %s, state = NULL WHERE subject = %s",
        [(snapshots.STATE_VERSION, doc, subject) for doc, subject in docs],
    )
    return docs, refused


def _upgrade_book(conn: Conn) -> tuple[bool, list[str]]:
    row = conn.execute(
        "SELECT book FROM alert_service_state WHERE version = %s FOR UPDATE",
        [store.LEGACY_VERSION],
    ).fetchone()
    if row is None:
        return False, []
    try:
        doc = book_doc(row[0])
    except (StateFormatError, LegacyStateRefused) as e:
        return False, [f"alert book: {e}"]
    conn.execute(
        "UPDATE alert_service_state SET version = %s, doc = %s, book = NULL",
        [store.BOOK_VERSION, Jsonb(doc)],
    )
    return True, []


def upgrade_state(conn: Conn) -> Upgraded:
    """Rewrite every format-1 row as JSON in one transaction; raises UpgradeRefused (and
    rewrites nothing) if any cannot be read."""
    with conn.transaction():
        docs, refused = _upgrade_snapshots(conn)
        book, refused_book = _upgrade_book(conn)
        refused += refused_book
        if refused:
            raise UpgradeRefused(
                f"{len(refused)} legacy row(s) not upgraded, nothing rewritten: "
                + "; ".join(refused)
            )
    done = Upgraded(snapshots=len(docs), book=book)
    log.info("rewrote %d detector snapshots and %d alert book as JSON", done.snapshots, done.book)
    return done
