"""The detector process: the live device stream through the broker → the rule engine →
alert candidates in the database, with the engine's state snapshotted alongside.

Each batch's candidates are written as soon as it is processed. Every `snapshot_every_s`
(or sooner under load) the state of every resident changed since is saved, beside the batch
loop (snapshot_writer.py), and only then are the messages it covers acknowledged. After a
crash the detector resumes from those snapshots and the broker redelivers exactly the
messages whose effects were not saved, so nothing is forgotten and an open condition is not
raised again: a replayed candidate already written is skipped by its origin, the identity of
the input it was computed from (a device reading, a manual observation; for time passing,
the data time the condition was established). Distinct inputs never share an origin, so two
updates of one alert in one batch are both written. (A candidate from time passing may come
again on replay from another input, or with a later stamp; the alert service folds repeats
into the open alert.)

Staff acting on alerts (acknowledge, resolve) reach the rules the way manual observations do:
read in order from `staff_attendance`, by a cursor committed with the snapshots.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from prometheus_client import CollectorRegistry

from ingest.batching import collect_batch
from ingest.codec import decode
from ingest.consumer import SessionConsumer
from ingest.errors import Rejected
from ingest.pipeline import Inbound
from rules.engine import Engine, RulesConfig
from rules.types import AlertCandidate, DeviceStatus, Motion, StaffAttended, Vital
from services.detector import symptom_feed
from services.detector.case_files import write_with_case_files
from services.detector.config import RETRY_FIRST_S, RETRY_MAX_S, DetectorConfig
from services.detector.metrics import DetectorMetrics
from services.detector.outbox import input_key, with_origin
from services.detector.partition import (
    MANUAL_CURSOR,
    STAFF_CURSOR,
    SYMPTOM_CURSOR,
)
from services.detector.residents import (
    Attribution,
    BulkCache,
    Placements,
    ResidentRecord,
    load_all_assignments,
    load_assignments,
    load_placement,
    load_placements,
    load_resident,
    load_residents,
)
from services.detector.snapshot_writer import Snapshot, SnapshotWriter
from services.detector.snapshots import load_snapshots, states_to_save
from services.detector.unit_states import restore_unit_state
from services.detector.ward_inputs import (
    attendance_after,
    first_manual_cursor,
    last_attendance,
    manual_observations_after,
    symptom_observations_after,
)
from services.settings import MqttEndpoint

log = logging.getLogger("carewatch.detector")

T = TypeVar("T")


class Detector:
    def __init__(
        self,
        config: DetectorConfig,
        *,
        mqtt_endpoint: MqttEndpoint,
        database_url: str,
        rules_config: RulesConfig | None = None,
        metrics: DetectorMetrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.database_url = database_url
        self.clock = clock
        self.rules_config = rules_config
        self.engine = Engine(rules_config)
        self.partition = config.partition
        self.consumer = SessionConsumer(
            mqtt_endpoint,
            client_id=config.client_id or config.partition.client_id,
            topic_filter=config.partition.topic_filters,
            queue_max=config.queue_max,
        )
        self.metrics = metrics or DetectorMetrics(CollectorRegistry())
        self.metrics.subscribed.set_function(lambda: float(self.consumer.subscribed.is_set()))
        self.metrics.residents.set_function(lambda: float(len(self.engine.residents)))
        self.stopping = threading.Event()
        # The record each resident's rules were last given: a re-read record is a new object.
        self.applied: dict[int, ResidentRecord | None] = {}
        # Position in `manual_observations`, committed with the snapshots: each manual
        # observation is taken in exactly once.
        self.manual_cursor = 0
        self.staff_cursor = 0  # position in `staff_attendance`, likewise
        self.symptom_cursor = 0  # position in `symptom_observations`, likewise
        self.unknown: set[int] = set()
        self.dirty: set[int] = set()  # residents whose state changed since the last snapshot
        self.unacked: list[Inbound] = []  # messages taken in since the last snapshot
        self.snapshot_due = time.monotonic() + config.snapshot_every_s
        # Snapshots are saved beside the batch loop (services/detector/snapshot_writer.py).
        self.writer = SnapshotWriter(
            self._connect,
            self.consumer,
            self.stopping,
            database_up=lambda up: self.metrics.database_up.set(int(up)),
        )
        self.saving: Snapshot | None = None  # handed over, not yet seen saved
        self.watermark: datetime | None = None  # the latest message time taken in (≤ now)
        self.waited_s = 0.0  # time spent waiting for the database to come back

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        # Every database call goes through `_db` on `self.conn`, which it replaces while the
        # database is away: the process waits out an outage, holding its state and its
        # unacknowledged messages, rather than exiting (docs/detection.md, "Outages").
        self.conn = self._db(self._connect, "connect", reconnect=False)
        self.metrics.database_up.set(1)
        self.attribution = Attribution(
            lambda device_id: self._db(
                lambda: load_assignments(self.conn, device_id), "device lookup"
            ),
            lambda: self._db(lambda: load_all_assignments(self.conn), "device lookup"),
            time.monotonic,
        )
        self.placements = Placements(
            lambda device_id: self._db(
                lambda: load_placement(self.conn, device_id), "device lookup"
            ),
            lambda: self._db(lambda: load_placements(self.conn), "device lookup"),
            time.monotonic,
        )
        self.profiles = BulkCache(
            lambda resident_id: self._db(
                lambda: load_resident(self.conn, resident_id, self.rules_config), "resident lookup"
            ),
            lambda: self._db(
                lambda: load_residents(self.conn, self.partition.sites, self.rules_config),
                "resident lookup",
            ),
            time.monotonic,
            refresh_s=self.config.profile_refresh_s,
        )
        try:
            self._restore()
            self.writer.start()
            self.consumer.start()
            next_tick = time.monotonic()
            try:
                while not self.stopping.is_set():
                    wait = max(0.0, min(self.config.flush_s, next_tick - time.monotonic()))
                    batch = collect_batch(
                        self.consumer.inbox,
                        batch_size=self.config.batch_size,
                        flush_s=wait,
                        idle_wait_s=max(0.01, wait),
                    )
                    tick = time.monotonic() >= next_tick
                    if tick:
                        next_tick = time.monotonic() + self.config.tick_s
                    if batch or tick:
                        began, waited = time.monotonic(), self.waited_s
                        self._process(batch, tick=tick)
                        # Waiting out a database outage is not work: not counted as busy.
                        busy = time.monotonic() - began - (self.waited_s - waited)
                        self.metrics.busy_seconds.inc(max(0.0, busy))
                # A clean stop saves what it holds: nothing is taken in again on restart
                # (unless the broker dropped us meanwhile and will send it all again).
                self._collect_saved(wait=True)
                if self.saving is None and not self._held_from_dropped_connection():
                    self._hand_over(self.clock())
                    self._collect_saved(wait=True)
                if self.saving is not None and self.saving.outcome == "unsaved":
                    # Stopped while the database is away: what was not saved is not
                    # acknowledged either, so the broker sends it again after a restart.
                    log.warning("stopped with the database away: nothing saved on stop")
            finally:
                self.writer.close()
                self.consumer.stop()
        finally:
            self.conn.close()

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.database_url, autocommit=True)

    def _db(self, action: Callable[[], T], what: str, *, reconnect: bool = True) -> T:
        """`action()`, retried until the database answers. Each action is one statement or
        one transaction that has changed nothing when it fails, so retrying it is safe; the
        messages behind it stay unacknowledged meanwhile (the broker holds them too). Only a
        stop ends the wait, with the error."""
        delay = RETRY_FIRST_S
        while True:
            try:
                done = action()
            except psycopg.OperationalError as exc:
                self.metrics.database_up.set(0)
                log.warning("%s failed (%s); retrying in %.1f s", what, exc, delay)
                paused = time.monotonic()
                if self.stopping.wait(delay):
                    raise
                delay = min(delay * 2, RETRY_MAX_S)
                if reconnect:
                    self._reconnect()
                self.waited_s += time.monotonic() - paused
            else:
                self.metrics.database_up.set(1)
                return done

    def _reconnect(self) -> None:
        try:
            fresh = self._connect()
        except psycopg.OperationalError:
            return  # still away: the next try fails on the closed connection and waits again
        old, self.conn = self.conn, fresh
        old.close()
        log.info("reconnected to the database")

    # --- state --------------------------------------------------------------------------------

    def _restore(self) -> None:
        states, skipped = self._db(lambda: load_snapshots(self.conn), "loading snapshots")
        if skipped:
            log.warning("%d snapshots of another state version were not loaded", len(skipped))
        cursor_key = self.partition.cursor_key
        for subject, state in states.items():
            kind, _, key = subject.partition(":")
            if kind == "cursor":
                continue  # ours is read below; other partitions' are theirs
            if kind in ("cluster", "unit", "sitecluster"):
                restore_unit_state(self.engine, self.partition, subject, state)
            elif kind == "resident" and self._ensure_resident(int(key)):
                rules = self.engine.residents[int(key)]
                for name, value in state.items():
                    setattr(rules, name, value)
        self.staff_cursor = self._staff_cursor(states)
        # Symptoms came with their cursor: a detector without one has taken none in yet (a new
        # partition takes up where the one detector stopped, as for manual observations).
        symptoms = states.get(self.partition.symptom_cursor_key, states.get(SYMPTOM_CURSOR, 0))
        self.symptom_cursor = int(symptoms)
        # A new partition of a deployment that had one detector takes up where it stopped:
        # what that detector took in before its cursor was taken in for every site.
        cursor = states.get(cursor_key, states.get(MANUAL_CURSOR))
        if cursor is not None:
            self.manual_cursor = int(cursor)
        else:
            self.manual_cursor = self._db(
                lambda: first_manual_cursor(self.conn), "reading the manual observations"
            )
        log.info(
            "partition %s (sites: %s): resumed %d residents and %d units from snapshots",
            self.partition.name or "-",
            ",".join(sorted(self.partition.sites)) or "all",
            len(self.engine.residents),
            len(self.engine.units),
        )

    def _staff_cursor(self, states: dict[str, Any]) -> int:
        cursor = states.get(self.partition.staff_cursor_key, states.get(STAFF_CURSOR))
        if cursor is not None:
            return int(cursor)
        return last_attendance(self.conn)

    def _ensure_resident(self, resident_id: int) -> bool:
        """Give the rules a resident's profile and rule overrides, when first seen and again
        each time they are re-read (every `profile_refresh_s`)."""
        record = self.profiles.get(resident_id)
        if resident_id in self.applied and self.applied[resident_id] is record:
            return resident_id in self.engine.residents
        self.applied[resident_id] = record
        if record is None:
            # Gone, or no longer admitted: its timers must not raise anything either.
            self.engine.residents.pop(resident_id, None)
            return False
        if not self.partition.owns(record.profile.site_id):
            # Another partition's resident (or one moved to another partition's site): its
            # state is that partition's to keep and snapshot.
            self.engine.residents.pop(resident_id, None)
            return False
        # The loader has validated it (a bad stored override falls back, logged, to the
        # site's configuration): the same the API and referrals score with.
        self.engine.set_resident(record.profile).config = record.config
        return True

    # --- a batch ------------------------------------------------------------------------------

    def _process(self, batch: list[Inbound], *, tick: bool) -> None:
        current = self.consumer.connection
        if self._held_from_dropped_connection():
            self._rewind()
        # Taken in under a connection the broker has dropped: it sends them again.
        batch = [item for item in batch if item.connection == current]
        now = self.clock()
        candidates: list[AlertCandidate] = []
        touched: set[int] = set()
        stamps: list[datetime] = []
        observed = 0
        for item in batch:
            try:
                message = decode(item.topic, item.payload, received_at=item.received_at)
            except Rejected:
                continue  # the ingest worker dead-letters it; nothing here to detect
            if not self.partition.owns(message.header.site_id):
                continue  # a subscription this session kept from an earlier set of sites
            stamps.append(message.header.ts)
            if self.watermark is None or message.header.ts > self.watermark:
                self.watermark = min(message.header.ts, now)
            device_id = message.header.device_id
            # A message's observations mostly share one time: attributed once, not each.
            attributed_at: datetime | None = None
            resident_id: int | None = None
            for obs in message.observations:
                if isinstance(obs, DeviceStatus) and obs.placement is not None:
                    self.placements.declare(device_id, obs.placement)
                if obs.ts != attributed_at:
                    attributed_at = obs.ts
                    resident_id = self.attribution.resident_at(device_id, obs.ts)
                    if resident_id is not None and not self._ensure_resident(resident_id):
                        resident_id = None
                if resident_id is None:
                    continue
                if isinstance(obs, Motion):
                    # The fall detector's settings depend on where the device is worn.
                    obs = replace(obs, placement=self.placements.of(device_id))
                found = self.engine.observe(resident_id, obs, now=now)
                if found:  # most readings find nothing: no identity to spell out
                    candidates += with_origin(found, input_key(obs), now - obs.ts)
                touched.add(resident_id)
                observed += 1
        self.metrics.observations.inc(observed)
        if tick:
            # Each query comes before anything changes: safe to retry as a whole.
            candidates += self._db(
                lambda: self._manual_observations(touched, now), "manual observations"
            )
            candidates += self._db(
                lambda: self._symptom_observations(touched, now), "symptom observations"
            )
            self._db(lambda: self._staff_attendance(touched), "staff attendance")
            stream_now = self._stream_now(now)
            if stream_now is not None:
                # A tick may move any resident's timers: snapshot everyone it touched.
                for resident_id, rules in list(self.engine.residents.items()):
                    if not self._ensure_resident(resident_id):  # discharged, in hospital: dropped
                        continue
                    found = self.engine.tick_resident(rules, now=stream_now)
                    if found:
                        candidates += with_origin(found, None, now - stream_now)
                        touched.add(resident_id)
                candidates += with_origin(
                    self.engine.tick_units(now=stream_now), None, now - stream_now
                )
        self.dirty |= touched
        self.unacked += batch
        self._commit(candidates, now)
        self._collect_saved(wait=False)
        held = len(self.unacked) + (len(self.saving.messages) if self.saving else 0)
        if held >= self.config.max_unacked and self.saving is not None:
            self._collect_saved(wait=True)  # the broker stops sending past its receive maximum
        if self.saving is None and (
            held >= self.config.max_unacked or time.monotonic() >= self.snapshot_due
        ):
            self._hand_over(now)
        committed = self.clock()
        for ts in stamps:
            self.metrics.lag_seconds.observe((committed - ts).total_seconds())

    def _held_from_dropped_connection(self) -> bool:
        # The messages of a snapshot being saved, then those held since, each came in on one
        # connection (others are filtered out as they arrive): no walk over thousands.
        current = self.consumer.connection
        if self.saving is not None and self.saving.connection != current:
            return True
        return bool(self.unacked) and self.unacked[0].connection != current

    def _rewind(self) -> None:
        """Back to the last snapshot. The broker dropped us (and we reconnected): it sends
        again every message not yet acknowledged, whose effects the rules already hold; taken
        in twice, a reading would count twice. Replayed onto the snapshot, they count once."""
        self._collect_saved(wait=True)  # saved or rolled back: the database says which
        self.saving = None
        log.warning(
            "reconnected: back to the last snapshot; %d messages come again", len(self.unacked)
        )
        self.engine = Engine(self.rules_config)
        self.applied.clear()
        self.unacked = []
        self.dirty = set()
        self.watermark = None
        self._restore()

    def _stream_now(self, now: datetime) -> datetime | None:
        """The time the rules' timers run on. Caught up (nothing waiting in the inbox), the
        clock; behind (a backlog after a restart or under overload), the latest message time
        taken in, or no timers at all before the first: judged against the clock, every
        device whose messages still wait would look silent, and the device rules would page
        "device silent" for all of them and clear each as its backlog arrived."""
        return now if self.consumer.inbox.empty() else self.watermark

    def _manual_observations(self, touched: set[int], now: datetime) -> list[AlertCandidate]:
        """Observations staff entered on rounds (through the API, into the database)."""
        rows = manual_observations_after(self.conn, self.manual_cursor, self.partition.sites)
        candidates: list[AlertCandidate] = []
        for obs_id, resident_id, metric, value, ts in rows:
            self.manual_cursor = obs_id
            if not self._ensure_resident(resident_id):
                continue
            vital = Vital(ts, metric, value, "manual")
            found = self.engine.observe(resident_id, vital, now=now)
            candidates += with_origin(found, f"manual:{obs_id}", now - ts)
            touched.add(resident_id)
            self.metrics.observations.inc()
        return candidates

    def _symptom_observations(self, touched: set[int], now: datetime) -> list[AlertCandidate]:
        """Symptoms staff charted on rounds, into the unit's syndromic clusters."""
        rows = symptom_observations_after(self.conn, self.symptom_cursor, self.partition.sites)
        candidates: list[AlertCandidate] = []
        for row in rows:  # residents' rounds and staff check-ins (services/detector/symptom_feed)
            self.symptom_cursor = row.id
            found = symptom_feed.feed(self.engine, row, self._ensure_resident, touched, now)
            candidates += with_origin(found, f"symptoms:{row.id}", now - row.ts)
        return candidates

    def _staff_attendance(self, touched: set[int]) -> None:
        """Staff acknowledging or resolving a resident's alert (the alert service records it):
        the rules learn a person attended, e.g. a resolved fall is no long lie."""
        rows = attendance_after(self.conn, self.staff_cursor, self.partition.sites)
        for row_id, resident_id, at, action, rule_id, dedupe_key, condition_ts in rows:
            self.staff_cursor = row_id
            if not self._ensure_resident(resident_id):
                continue
            attended = StaffAttended(at, action, rule_id, dedupe_key, condition_ts)
            self.engine.attend(resident_id, attended)
            touched.add(resident_id)

    def _commit(self, candidates: list[AlertCandidate], now: datetime) -> None:
        """Write the candidates, with their case files' line lists as the rules hold them now
        (their messages are acknowledged with the next snapshot saved)."""
        if not candidates:
            return
        files = [
            (c, *found)
            for c in candidates
            if c.action in ("raise", "update") and (found := self.engine.cases_of(c)) is not None
        ]

        def write() -> int:
            # Retried whole: a transaction the outage cut rolled back (or, cut during its
            # COMMIT, is found again: candidates are skipped by key).
            with self.conn.transaction():
                return write_with_case_files(self.conn, candidates, files, now)

        new = self._db(write, "writing candidates")
        for c in candidates:
            self.metrics.candidates.labels(c.rule_id, c.action).inc()
            log.info("%s %s %s (%s): %s", c.action, c.rule_id, c.subject, c.severity, c.title)
        if new != len(candidates):
            log.info("%d candidates were already recorded (replayed input)", len(candidates) - new)

    def _hand_over(self, now: datetime) -> None:
        """A snapshot of every resident changed since the last one, the units, the clusters
        and the cursors, to the writer with the messages it covers."""
        cursors = {
            self.partition.cursor_key: self.manual_cursor,
            self.partition.staff_cursor_key: self.staff_cursor,
            self.partition.symptom_cursor_key: self.symptom_cursor,
        }
        states = states_to_save(self.engine, self.dirty, cursors)
        self.saving = Snapshot(states, self.unacked, self.consumer.connection, now)
        self.unacked, self.dirty = [], set()
        self.snapshot_due = time.monotonic() + self.config.snapshot_every_s
        self.writer.submit(self.saving)

    def _collect_saved(self, *, wait: bool) -> None:
        """Done with the snapshot being saved once it is saved (one rolled back, the broker
        having dropped us, stays for `_rewind`)."""
        if self.saving is not None and self.saving.saved(wait=wait):
            self.metrics.snapshot_seconds.observe(self.saving.seconds)
            self.saving = None
