"""The detector process: the live device stream through the broker → the rule engine →
alert candidates in the database, with the engine's state snapshotted alongside.

Per batch, in one transaction: the candidates the batch produced and a snapshot of every
resident it touched; only then are the batch's messages acknowledged. After a crash the
detector resumes from those snapshots and the broker redelivers exactly the messages whose
effects were not committed, so nothing is forgotten and an open condition is not raised
again. (Candidates stamped with the processing time, such as NEWS2's, may come again with
a later stamp on replay; the alert service folds repeats into the open alert.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge

from ingest.batching import collect_batch
from ingest.codec import decode
from ingest.consumer import SessionConsumer
from ingest.errors import Rejected
from ingest.pipeline import Inbound
from rules.engine import Engine, ResidentRules, RulesConfig
from rules.errors import OverrideError
from rules.types import AlertCandidate, Vital, unit_subject
from services.detector.convert import observations
from services.detector.outbox import write_candidates
from services.detector.residents import Attribution, load_assignments, load_resident, spread
from services.detector.snapshots import load_snapshots, save_snapshots
from services.settings import MqttEndpoint

log = logging.getLogger("carewatch.detector")

MANUAL_CURSOR = "cursor:manual"

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


class DetectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.subscribed = Gauge(
            "carewatch_detector_subscribed",
            "1 while connected with the data subscription confirmed by the broker",
            registry=registry,
        )
        self.observations = Counter(
            "carewatch_detector_observations", "Observations fed to the rules", registry=registry
        )
        self.candidates = Counter(
            "carewatch_detector_candidates",
            "Alert candidates produced",
            ["rule_id", "action"],
            registry=registry,
        )
        self.residents = Gauge(
            "carewatch_detector_residents", "Residents with rule state", registry=registry
        )


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    client_id: str = "carewatch-detector"
    batch_size: int = 2000
    flush_s: float = 0.2
    tick_s: float = 1.0
    profile_refresh_s: float = 60.0
    queue_max: int = 50_000


def resident_snapshot(rules: ResidentRules) -> dict[str, Any]:
    return {name: getattr(rules, name) for name in STATE_FIELDS}


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
        self.engine = Engine(rules_config)
        self.consumer = SessionConsumer(
            mqtt_endpoint, client_id=config.client_id, queue_max=config.queue_max
        )
        self.metrics = metrics or DetectorMetrics(CollectorRegistry())
        self.metrics.subscribed.set_function(lambda: float(self.consumer.subscribed.is_set()))
        self.metrics.residents.set_function(lambda: float(len(self.engine.residents)))
        self.stopping = threading.Event()
        self.profile_due: dict[int, float] = {}  # resident → monotonic time to re-read it
        # Position in `manual_observations`, committed with the snapshots: each manual
        # observation is taken in exactly once.
        self.manual_cursor = 0
        self.unknown: set[int] = set()

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            self.conn = conn
            self.attribution = Attribution(
                lambda device_id: load_assignments(conn, device_id), time.monotonic
            )
            self._restore()
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
                        self._process(batch, tick=tick)
            finally:
                self.consumer.stop()

    # --- state --------------------------------------------------------------------------------

    def _restore(self) -> None:
        states, skipped = load_snapshots(self.conn)
        if skipped:
            log.warning("%d snapshots of another state version were not loaded", len(skipped))
        for subject, state in states.items():
            kind, _, key = subject.partition(":")
            if subject == MANUAL_CURSOR:
                self.manual_cursor = int(state)
            elif kind == "unit":
                site_id, _, unit_id = key.partition("/")
                self.engine.units[(site_id, unit_id)] = state
            elif kind == "resident" and self._ensure_resident(int(key)):
                rules = self.engine.residents[int(key)]
                for name, value in state.items():
                    setattr(rules, name, value)
        if MANUAL_CURSOR not in states:
            # First start: observations older than NEWS2's longest freshness window (12 h)
            # could not count any more.
            row = self.conn.execute(
                "SELECT coalesce(max(id), 0) FROM manual_observations"
                " WHERE recorded_at < now() - interval '12 hours'"
            ).fetchone()
            self.manual_cursor = int(row[0]) if row else 0
        log.info(
            "resumed %d residents and %d units from snapshots",
            len(self.engine.residents),
            len(self.engine.units),
        )

    def _ensure_resident(self, resident_id: int) -> bool:
        """Load (or periodically re-read) a resident's profile and rule overrides."""
        due = self.profile_due.get(resident_id)
        if due is not None and time.monotonic() < due:
            return resident_id in self.engine.residents
        self.profile_due[resident_id] = time.monotonic() + spread(self.config.profile_refresh_s)
        record = load_resident(self.conn, resident_id)
        if record is None:
            return False
        try:
            self.engine.set_resident(record.profile, record.overrides)
        except OverrideError as exc:
            # A bad override must not blind the detector: the site defaults still watch.
            log.error("resident %d: rule overrides ignored (%s)", resident_id, exc)
            self.engine.set_resident(record.profile)
        return True

    # --- a batch ------------------------------------------------------------------------------

    def _process(self, batch: list[Inbound], *, tick: bool) -> None:
        now = self.clock()
        candidates: list[AlertCandidate] = []
        touched: set[int] = set()
        for item in batch:
            try:
                message = decode(item.topic, item.payload, received_at=item.received_at)
            except Rejected:
                continue  # the ingest worker dead-letters it; nothing here to detect
            device_id = message.header.device_id
            for obs in observations(message):
                resident_id = self.attribution.resident_at(device_id, obs.ts)
                if resident_id is None or not self._ensure_resident(resident_id):
                    continue
                candidates += self.engine.observe(resident_id, obs, now=now)
                touched.add(resident_id)
                self.metrics.observations.inc()
        if tick:
            candidates += self._manual_observations(touched, now)
            # A tick may move any resident's timers: snapshot everyone it touched.
            for resident_id, rules in self.engine.residents.items():
                found = self.engine.tick_resident(rules, now=now)
                if found:
                    candidates += found
                    touched.add(resident_id)
            candidates += self.engine.tick_units(now=now)
        self._commit(candidates, touched, now)
        self.consumer.ack(batch)

    def _manual_observations(self, touched: set[int], now: datetime) -> list[AlertCandidate]:
        """Observations staff entered on rounds (through the API, into the database)."""
        rows = self.conn.execute(
            "SELECT id, resident_id, metric, value, ts FROM manual_observations WHERE id > %s"
            " ORDER BY id LIMIT 1000",
            [self.manual_cursor],
        ).fetchall()
        candidates: list[AlertCandidate] = []
        for obs_id, resident_id, metric, value, ts in rows:
            self.manual_cursor = obs_id
            if not self._ensure_resident(resident_id):
                continue
            vital = Vital(ts, metric, value, "manual")
            candidates += self.engine.observe(resident_id, vital, now=now)
            touched.add(resident_id)
            self.metrics.observations.inc()
        return candidates

    def _commit(self, candidates: list[AlertCandidate], touched: set[int], now: datetime) -> None:
        states: dict[str, Any] = {
            f"resident:{rid}": resident_snapshot(self.engine.residents[rid]) for rid in touched
        }
        states[MANUAL_CURSOR] = self.manual_cursor
        for (site_id, unit_id), state in self.engine.units.items():
            states[unit_subject(site_id, unit_id)] = state
        with self.conn.transaction():
            new = write_candidates(self.conn, candidates)
            save_snapshots(self.conn, states, taken_at=now)
        for c in candidates:
            self.metrics.candidates.labels(c.rule_id, c.action).inc()
            log.info("%s %s %s (%s): %s", c.action, c.rule_id, c.subject, c.severity, c.title)
        if new != len(candidates):
            log.info("%d candidates were already recorded (replayed input)", len(candidates) - new)
