"""The ingest worker: MQTT (QoS 1, persistent session, manual acks) → batches → TimescaleDB.

A message is acknowledged to the broker only after the batch holding it has committed, so a
crash at any moment loses nothing: the broker redelivers what was not acknowledged, and the
idempotent write stores a redelivered message once.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from psycopg.rows import TupleRow

from ingest.batching import collect_batch
from ingest.codec import DEFAULT_LIMITS, Limits
from ingest.directory import DeviceDirectory
from ingest.metrics import IngestMetrics
from ingest.pipeline import Inbound, classify
from ingest.writer import Batch, BatchWriter, DeadLetter, WriteResult, drop_expired
from services.settings import MqttEndpoint

log = logging.getLogger("carewatch.ingest")

DATA_FILTER = "carewatch/v1/#"
SESSION_EXPIRY_S = 14 * 24 * 3600  # the broker keeps our queue this long while we are away
RETENTION_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    client_id: str
    batch_size: int = 5000
    flush_s: float = 0.2
    queue_max: int = 50_000
    receive_maximum: int = 20_000  # messages the broker may have in flight to us, unacked
    share_group: str | None = None  # MQTT 5 shared subscription group for scale-out
    retention_days: int = 365
    limits: Limits = DEFAULT_LIMITS

    @property
    def topic_filter(self) -> str:
        if self.share_group:
            return f"$share/{self.share_group}/{DATA_FILTER}"
        return DATA_FILTER


def device_site(conn: psycopg.Connection[TupleRow], device_id: str) -> str | None:
    row = conn.execute("SELECT site_id FROM devices WHERE device_id = %s", [device_id]).fetchone()
    return None if row is None else str(row[0])


class IngestWorker:
    def __init__(
        self,
        config: WorkerConfig,
        *,
        mqtt_endpoint: MqttEndpoint,
        database_url: str,
        metrics: IngestMetrics,
    ) -> None:
        self.config = config
        self.endpoint = mqtt_endpoint
        self.database_url = database_url
        self.metrics = metrics
        self.inbox: queue.Queue[Inbound] = queue.Queue(maxsize=config.queue_max)
        self.stopping = threading.Event()
        self.connection = 0  # counts connections; paho's callbacks run on one thread
        self.subscribed = threading.Event()  # readings flow only once this is set
        self.client = self._make_client()

    # --- MQTT adapter -------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.username_pw_set(self.endpoint.username, self.endpoint.password)
        if self.endpoint.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        return client

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the ingest worker: %s", reason)
            return
        self.connection += 1
        log.info("connected to broker (session present: %s)", flags.session_present)
        client.subscribe(self.config.topic_filter, qos=1)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _props: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error(
                "broker refused the subscription to %s: %s", self.config.topic_filter, reasons
            )
            return
        self.metrics.subscribed.set(1)
        self.subscribed.set()

    def _on_disconnect(self, *_args: object) -> None:
        self.metrics.subscribed.set(0)
        self.subscribed.clear()
        if not self.stopping.is_set():
            log.warning("disconnected from broker; paho reconnects")

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        # Only convert and enqueue. A full inbox blocks the network thread, which pushes back
        # on the broker; the broker keeps the rest in our persistent session.
        self.inbox.put(
            Inbound(msg.topic, bytes(msg.payload), datetime.now(UTC), msg.mid, self.connection)
        )

    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = self.config.receive_maximum
        self.client.connect_async(
            self.endpoint.host,
            self.endpoint.port,
            keepalive=30,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    # --- pipeline -----------------------------------------------------------------------

    def run(self) -> None:
        """Consume until `stop()`; then flush what is in hand and disconnect."""
        self.writer = self._open_writer()
        directory = DeviceDirectory(
            lambda device_id: device_site(self.writer.conn, device_id), time.monotonic
        )
        self.connect()
        last_retention = 0.0
        try:
            while not self.stopping.is_set():
                inbound = collect_batch(
                    self.inbox, batch_size=self.config.batch_size, flush_s=self.config.flush_s
                )
                if inbound:
                    self._process(inbound, directory)
                if time.monotonic() - last_retention > RETENTION_EVERY_S:
                    self._drop_expired()
                    last_retention = time.monotonic()
            # What is already queued is written before we go: a clean stop leaves nothing
            # for the broker to redeliver.
            while inbound := self._drain_nowait():
                self._process(inbound, directory)
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            self.writer.conn.close()

    def _drop_expired(self) -> None:
        try:
            drop_expired(self.writer.conn, retention_days=self.config.retention_days)
        except psycopg.Error as exc:  # retention can wait an hour; readings cannot
            log.warning("dropping expired chunks failed (%s); next try in an hour", exc)

    def stop(self) -> None:
        self.stopping.set()

    def _open_writer(self) -> BatchWriter:
        return BatchWriter(psycopg.connect(self.database_url, autocommit=True))

    def _drain_nowait(self) -> list[Inbound]:
        batch: list[Inbound] = []
        while len(batch) < self.config.batch_size:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _process(self, inbound: list[Inbound], directory: DeviceDirectory) -> None:
        batch = Batch()
        measured_at: list[float] = []
        for item in inbound:
            outcome = classify(item, directory.site_of, self.config.limits)
            if isinstance(outcome, DeadLetter):
                batch.dead.append(outcome)
            else:
                batch.add(outcome, item.received_at)
                measured_at.append(outcome.header.ts.timestamp())
        started = time.perf_counter()
        result = self._write_with_retry(batch)
        write_s = time.perf_counter() - started
        committed = time.time()
        # Acknowledge only now: until the commit, the broker still holds every message.
        for item in inbound:
            # A message from an earlier connection is redelivered by the broker anyway, and
            # its mid may by now name another message: acknowledging it could lose that one.
            if item.connection == self.connection:
                self.client.ack(item.mid, 1)
        self._count(len(inbound), batch, result, measured_at, write_s, committed)

    def _write_with_retry(self, batch: Batch) -> WriteResult:
        delay = 0.5
        while True:
            try:
                return self.writer.write(batch)
            except psycopg.OperationalError as exc:
                # The database is away: keep the batch (unacked, so the broker holds it too)
                # and retry; meanwhile the inbox fills and then pushes back on the broker.
                self.metrics.write_failures.inc()
                log.warning("batch write failed (%s); retrying in %.1fs", exc, delay)
                if self.stopping.wait(delay):
                    raise
                delay = min(delay * 2, 10.0)
                with contextlib.suppress(psycopg.OperationalError):
                    old = self.writer.conn
                    self.writer = self._open_writer()
                    old.close()

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
