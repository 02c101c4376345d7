"""The ingest worker: MQTT (QoS 1, persistent session, manual acks) → batches → TimescaleDB.

A message is acknowledged to the broker only after the batch holding it has committed, so a
crash at any moment loses nothing: the broker redelivers what was not acknowledged, and the
idempotent write stores a redelivered message once.

Periodic work besides the batches (retention, the trend rollups' refresh) is handed in by the
composition root as `Job`s: ingest knows nothing of the services that need it.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import psycopg
from psycopg.rows import TupleRow

from ingest.batching import collect_batch
from ingest.codec import DEFAULT_LIMITS, Limits
from ingest.consumer import BrokerEndpoint, SessionConsumer
from ingest.directory import DeviceDirectory
from ingest.metrics import IngestMetrics
from ingest.pipeline import Inbound, classify, topic_device
from ingest.presence import PresenceBook
from ingest.readings import DeviceMessage
from ingest.writer import (
    Batch,
    BatchWriter,
    DeadLetter,
    WriteResult,
    drop_expired,
    open_spans,
    trim_dead_letters,
)
from rules.types import DeviceStatus
from rules.vocabulary import DATA_FILTER, OFFLINE_AFTER

log = logging.getLogger("carewatch.ingest")
T = TypeVar("T")

RETENTION_EVERY_S = 3600.0
SWEEP_SPANS_EVERY_S = 60.0  # devices gone quiet: their spans' last minute is written this late


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    client_id: str
    batch_size: int = 5000
    flush_s: float = 0.2
    queue_max: int = 50_000
    receive_maximum: int = 20_000  # messages the broker may have in flight to us, unacked
    share_group: str | None = None  # MQTT 5 shared subscription group for scale-out
    retention_days: int = 365
    limits: Limits = DEFAULT_LIMITS  # `max_age` None: the retention period (`decode_limits`)
    # Memory: payloads and topics queued from the broker, and per batch (decoded, a batch
    # takes several times its raw bytes). Receive Maximum alone would allow 20,000 x 64 KiB.
    queue_max_bytes: int = 64 * 2**20
    batch_max_bytes: int = 8 * 2**20
    # Dead letters: kept this many days, and never more than this many rows; trimmed hourly
    # and, in a flood, every tenth of the cap written (docs/ingest.md, "Dead-letter retention").
    dead_letter_days: int = 30
    dead_letter_max_rows: int = 1_000_000

    @property
    def decode_limits(self) -> Limits:
        """The limits messages are decoded with: a `ts` older than the retention period is
        dead-lettered (`too_old`), since its chunk would be created only to be dropped."""
        if self.limits.max_age is not None:
            return self.limits
        return replace(self.limits, max_age=timedelta(days=self.retention_days))

    @property
    def topic_filter(self) -> str:
        if self.share_group:
            return f"$share/{self.share_group}/{DATA_FILTER}"
        return DATA_FILTER


class Periodic:
    """Due at once, then every `every_s` seconds of `clock`. (Measuring from a last run of 0.0
    made the first run wait until the monotonic clock, which counts from boot, passed
    `every_s`: on a host up less than an hour, retention did not run at start.)"""

    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self.clock = clock
        self.last: float | None = None

    def due(self) -> bool:
        now = self.clock()
        if self.last is not None and now - self.last < self.every_s:
            return False
        self.last = now
        return True


@dataclass(frozen=True, slots=True)
class Job:
    """Periodic work the worker runs besides its batches: due at start, then every `every_s`.
    `run` gets an autocommit connection: the writer's, between batches; or with `apart`, one
    of its own on a thread, for work that may take seconds (batches must not wait for it; one
    run at a time). A database error is logged and the job tried again when next due."""

    name: str
    every_s: float
    run: Callable[[psycopg.Connection[TupleRow]], object]
    apart: bool = False


def retention_job(config: WorkerConfig) -> Job:
    """Raw chunks past retention and old dead letters go, at start and then hourly."""
    return Job(
        "retention",
        RETENTION_EVERY_S,
        partial(
            drop_expired,
            retention_days=config.retention_days,
            dead_letter_days=config.dead_letter_days,
            dead_letter_max_rows=config.dead_letter_max_rows,
        ),
    )


def _now() -> datetime:
    return datetime.now(UTC)


def device_site(conn: psycopg.Connection[TupleRow], device_id: str) -> str | None:
    row = conn.execute("SELECT site_id FROM devices WHERE device_id = %s", [device_id]).fetchone()
    return None if row is None else str(row[0])


class IngestWorker:
    def __init__(
        self,
        config: WorkerConfig,
        *,
        mqtt_endpoint: BrokerEndpoint,
        database_url: str,
        metrics: IngestMetrics,
        jobs: Sequence[Job] = (),
    ) -> None:
        self.config = config
        self.jobs = tuple(jobs)
        self.limits = config.decode_limits
        self.database_url = database_url
        self.metrics = metrics
        self.consumer = SessionConsumer(
            mqtt_endpoint,
            client_id=config.client_id,
            topic_filter=config.topic_filter,
            queue_max=config.queue_max,
            receive_maximum=config.receive_maximum,
            queue_max_bytes=config.queue_max_bytes,
            max_payload_bytes=config.limits.max_payload_bytes,
            retain_as_published=True,
        )
        metrics.subscribed.set_function(lambda: float(self.consumer.subscribed.is_set()))
        self.stopping = threading.Event()
        self.apart: dict[str, threading.Thread] = {}  # a running `apart` job's thread, by name
        self.dead_since_trim = 0
        self.presence = PresenceBook(OFFLINE_AFTER)

    # --- pipeline -----------------------------------------------------------------------

    def run(self) -> None:
        """Consume until `stop()`; then flush what is in hand and disconnect."""
        self.writer = self._open_writer()
        self.metrics.database_up.set(1)
        # Go on with the spans a previous run left open (it wrote them a minute late at most).
        self.presence.resume(open_spans(self.writer.conn, _now() - OFFLINE_AFTER))
        sweep = Periodic(SWEEP_SPANS_EVERY_S)
        directory = DeviceDirectory(
            lambda device_id: device_site(self.writer.conn, device_id), time.monotonic
        )
        self.consumer.start()
        # Each job at start, then every period (retention: readings past it must not wait an
        # hour to go).
        schedule = [(job, Periodic(job.every_s)) for job in self.jobs]
        try:
            while not self.stopping.is_set():
                inbound = collect_batch(
                    self.consumer.inbox,
                    batch_size=self.config.batch_size,
                    flush_s=self.config.flush_s,
                    max_bytes=self.config.batch_max_bytes,
                )
                if inbound:
                    self._process(inbound, directory)
                if self.dead_since_trim >= max(1, self.config.dead_letter_max_rows // 10):
                    self._trim_dead_letters()
                for job, periodic in schedule:
                    if periodic.due():
                        self._run_job(job)
                if sweep.due():
                    self._sweep_spans()
            # What is already queued is written before we go: a clean stop leaves nothing
            # for the broker to redeliver.
            while inbound := self._drain_nowait():
                self._process(inbound, directory)
            self._sweep_spans()
        finally:
            self.consumer.stop()
            self.writer.conn.close()
            for thread in self.apart.values():  # a step in flight may commit; else it rolls back
                thread.join(timeout=5)

    def _run_job(self, job: Job) -> None:
        if not job.apart:
            self._job_step(job, self.writer.conn)
            return
        # On a thread and a connection of its own: folding in a backfill can take seconds, and
        # batches must not wait for it. One at a time; other workers' runs skip (their lock).
        running = self.apart.get(job.name)
        if running is None or not running.is_alive():
            thread = threading.Thread(target=self._apart, args=(job,), name=job.name, daemon=True)
            self.apart[job.name] = thread
            thread.start()

    def _apart(self, job: Job) -> None:
        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                self._job_step(job, conn)
        except psycopg.Error as exc:  # could not connect
            log.warning("%s failed (%s); next try in %.0f s", job.name, exc, job.every_s)

    def _job_step(self, job: Job, conn: psycopg.Connection[TupleRow]) -> None:
        try:
            job.run(conn)
        except psycopg.Error as exc:  # the job can wait a period; readings cannot
            log.warning("%s failed (%s); next try in %.0f s", job.name, exc, job.every_s)

    def _trim_dead_letters(self) -> None:
        # A flood of bad messages: the row cap cannot wait for the hourly run.
        self.dead_since_trim = 0
        try:
            deleted = trim_dead_letters(
                self.writer.conn,
                days=self.config.dead_letter_days,
                max_rows=self.config.dead_letter_max_rows,
            )
        except psycopg.Error as exc:
            log.warning("trimming dead letters failed (%s)", exc)
        else:
            log.info(
                "trimmed %d dead letters to the newest %d",
                deleted,
                self.config.dead_letter_max_rows,
            )

    def stop(self) -> None:
        self.stopping.set()

    def _open_writer(self) -> BatchWriter:
        return BatchWriter(psycopg.connect(self.database_url, autocommit=True))

    def _drain_nowait(self) -> list[Inbound]:
        batch: list[Inbound] = []
        while len(batch) < self.config.batch_size:
            try:
                batch.append(self.consumer.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _process(self, inbound: list[Inbound], directory: DeviceDirectory) -> None:
        self._look_up_sites(inbound, directory)
        batch = Batch()
        measured_at: list[float] = []
        to_clear: set[str] = set()
        for item in inbound:
            if item.is_clear:  # a retained message deleted (often by us, below): nothing to keep
                continue
            outcome = classify(item, directory.site_of, self.limits)
            if isinstance(outcome, DeadLetter):
                batch.dead.append(outcome)
                self.dead_since_trim += 1
                if outcome.reason == "retained":
                    to_clear.add(item.topic)
            else:
                batch.add(outcome, item.received_at)
                measured_at.append(outcome.header.ts.timestamp())
            self._heard(outcome, item.received_at, directory)
        batch.presence = self.presence.take()
        started = time.perf_counter()
        result = self._write_with_retry(batch)
        write_s = time.perf_counter() - started
        committed = time.time()
        # Acknowledge only now: until the commit, the broker still holds every message.
        self.consumer.ack(inbound)
        # After the commit too: a crash before this redelivers the message, which is then
        # dead-lettered (again) and cleared.
        self.consumer.clear_retained(to_clear)
        self._count(len(inbound), batch, result, measured_at, write_s, committed)

    def _heard(
        self, outcome: DeviceMessage | DeadLetter, at: datetime, directory: DeviceDirectory
    ) -> None:
        """Any message of a provisioned device keeps it online, a rejected one too (as the
        devices API has it); an offline status (its own or its last will) ends that."""
        if isinstance(outcome, DeadLetter):
            device, down = outcome.device_id, False
        else:
            device = outcome.header.device_id
            status = outcome.observations[0] if outcome.header.stream == "status" else None
            down = isinstance(status, DeviceStatus) and status.online is False
        if device is not None and directory.known(device):
            self.presence.heard(device, at, down=down)

    def _sweep_spans(self) -> None:
        rows = self.presence.sweep(_now())
        if rows:
            self._while_database_away(lambda: self.writer.write_spans(rows), "span write")

    def _write_with_retry(self, batch: Batch) -> WriteResult:
        return self._while_database_away(lambda: self.writer.write(batch), "batch write")

    def _look_up_sites(self, inbound: list[Inbound], directory: DeviceDirectory) -> None:
        """Ask the directory about the batch's devices first, waiting out a database outage as
        a write does: a device not cached yet (any device, after a restart) would otherwise
        make `classify` raise and kill the worker while the database is away."""
        devices = {d for item in inbound if (d := topic_device(item.topic)) is not None}
        for device_id in devices:
            self._while_database_away(
                partial(directory.site_of, device_id), "device lookup", count=False
            )

    def _while_database_away(self, action: Callable[[], T], what: str, *, count: bool = True) -> T:
        delay = 0.5
        while True:
            try:
                done = action()
            except psycopg.OperationalError as exc:
                # The database is away: keep the batch (unacked, so the broker holds it too)
                # and retry; meanwhile the inbox fills and then pushes back on the broker.
                self.metrics.database_up.set(0)
                if count:
                    self.metrics.write_failures.inc()
                log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)
                if self.stopping.wait(delay):
                    raise
                delay = min(delay * 2, 10.0)
                with contextlib.suppress(psycopg.OperationalError):
                    old = self.writer.conn
                    self.writer = self._open_writer()
                    old.close()
            else:
                self.metrics.database_up.set(1)
                return done

    def _count(
        self,
        received: int,
        batch: Batch,
        result: WriteResult,
        measured_at: list[float],
        write_s: float,
        committed: float,
    ) -> None:
        m = self.metrics
        m.received.inc(received)
        m.batch_seconds.observe(write_s)
        for table, n in result.stored.items():
            if n:
                m.stored.labels(table).inc(n)
        for table, n in result.duplicates.items():
            if n:
                m.duplicates.labels(table).inc(n)
        for dead in batch.dead:
            m.dead_lettered.labels(dead.reason).inc()
        for ts in measured_at:
            m.lag_seconds.observe(max(0.0, committed - ts))
