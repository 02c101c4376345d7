"""Snapshots saved beside the detector's batch loop, not in it.

Saving a snapshot (encoding every changed resident's state, writing it, committing, then
acknowledging the messages it covers) held the batch loop 0.3-1 s every few seconds under
load, and a fall that arrived meanwhile waited as long: in bench/load.py the alert p99 was the
snapshot p99. The loop now hands a snapshot over and goes on; this writer saves it on its own
connection and thread, and acknowledges its messages only after the commit, so a crash still
loses nothing: the broker redelivers whatever was not acknowledged, replayed onto the last
snapshot saved.

A hand-over is a consistent cut without a copy: the rules replace their state values rather
than change them (rules/engine.py), so what the loop handed over stays as it was; the two
dicts the engine keeps per resident are copied (snapshots.resident_snapshot).

If the broker drops the detector while a snapshot is being saved, its messages come again, so
the snapshot must not be committed (they would be replayed onto a state that holds them): the
writer checks the connection inside the transaction, just before COMMIT, and rolls back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

import psycopg

from ingest.pipeline import Inbound
from services.detector.config import RETRY_FIRST_S, RETRY_MAX_S
from services.detector.snapshots import encode_snapshots, save_encoded

log = logging.getLogger("carewatch.detector")

Outcome = Literal["saved", "dropped", "unsaved"]


class Consumer(Protocol):
    """What the writer needs of the detector's broker session (ingest.consumer)."""

    @property
    def connection(self) -> int: ...

    def ack(self, items: list[Inbound]) -> None: ...


class _Dropped(Exception):
    """The broker connection its messages came in on is gone: roll the snapshot back."""


@dataclass(eq=False)
class Snapshot:
    """The state at one cut and the messages taken in up to it (all on one connection)."""

    states: dict[str, Any]
    messages: list[Inbound]
    connection: int  # the consumer's connection when handed over
    taken_at: datetime
    # Set by the writer: saved (and its messages acknowledged); dropped (rolled back, the
    # connection changed: its messages come again); unsaved (stopped while the database was
    # away: they come again after a restart); or the error that stopped it.
    outcome: Outcome | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def saved(self, *, wait: bool) -> bool:
        """Whether it is saved, waiting for the writer with `wait`; an error that stopped the
        writer is raised here, in the batch loop, and stops the detector."""
        if not (self.done.wait() if wait else self.done.is_set()):
            return False
        if self.error is not None:
            raise self.error
        return self.outcome == "saved"


class SnapshotWriter:
    """Saves one snapshot at a time, in its own thread once started (inline before)."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        consumer: Consumer,
        stopping: threading.Event,
        *,
        database_up: Callable[[bool], None] = lambda up: None,
    ) -> None:
        self.connect = connect
        self.consumer = consumer
        self.stopping = stopping
        self.database_up = database_up
        self.conn: psycopg.Connection[Any] | None = None
        self._jobs: queue.Queue[Snapshot | None] = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
            self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def submit(self, snapshot: Snapshot) -> None:
        """Hand over a snapshot; the caller keeps at most one unfinished (see `Snapshot.done`)."""
        if self._thread is None:
            self.save(snapshot)
        else:
            self._jobs.put(snapshot)

    def _run(self) -> None:
        while (snapshot := self._jobs.get()) is not None:
            self.save(snapshot)

    def save(self, snapshot: Snapshot) -> None:
        began = time.monotonic()
        try:
            snapshot.outcome = self._save(snapshot)
        except BaseException as e:  # handed to the batch loop, which stops the detector
            snapshot.error = e
        snapshot.seconds = time.monotonic() - began
        snapshot.done.set()

    def _save(self, snapshot: Snapshot) -> Outcome:
        rows = encode_snapshots(snapshot.states)
        delay = RETRY_FIRST_S
        while True:
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = self.connect()
                with self.conn.transaction():
                    save_encoded(self.conn, rows, taken_at=snapshot.taken_at)
                    if self.consumer.connection != snapshot.connection:
                        raise _Dropped
            except _Dropped:
                return "dropped"
            except psycopg.OperationalError as e:
                # Retried whole, on a fresh connection: the transaction changed nothing.
                self.database_up(False)
                log.warning("saving a snapshot failed (%s); retrying in %.1f s", e, delay)
                if self.conn is not None:
                    self.conn.close()
                if self.stopping.wait(delay):
                    return "unsaved"
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self.database_up(True)
            self.consumer.ack(snapshot.messages)
            return "saved"
