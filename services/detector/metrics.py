"""The detector's Prometheus metrics: the subscription, what the rules take in and produce, how
far behind the devices they run, and how busy the main loop is."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingest.metrics import LATENCY_BUCKETS

__all__ = ["DetectorMetrics"]


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
        # How far behind the devices the rules run (bench/load.py reads it under load).
        self.lag_seconds = Histogram(
            "carewatch_detector_lag_seconds",
            "From a message's ts (the device's clock) to the commit of the batch that took it in",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # Headroom: one process takes in its sites' whole stream on one thread (plus
        # paho's). A busy rate near 1 s/s means it cannot keep up, and a long snapshot is a
        # pause every message then waits behind (docs/scaling.md, "Capacity").
        self.busy_seconds = Counter(
            "carewatch_detector_busy_seconds",
            "Time the main loop spent on batches, ticks and commits (its rate: busy share)",
            registry=registry,
        )
        self.database_up = Gauge(
            "carewatch_detector_database_up",
            "0 while the database is away (statements are retried in place), else 1",
            registry=registry,
        )
        self.snapshot_seconds = Histogram(
            "carewatch_detector_snapshot_seconds",
            "Saving the changed residents' state and acknowledging the messages it covers",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
