"""The ingest worker's Prometheus metrics, registered on a registry the caller owns."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Fine below a second, where the publish→commit target lies (p99 < 1 s).
LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.02,
    0.03,
    0.04,
    0.05,
    0.075,
    0.1,
    0.125,
    0.15,
    0.175,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.5,
    0.6,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "carewatch_ingest_messages_received", "MQTT messages received", registry=registry
        )
        self.stored = Counter(
            "carewatch_ingest_rows_stored", "Rows newly stored", ["table"], registry=registry
        )
        self.duplicates = Counter(
            "carewatch_ingest_rows_duplicate",
            "Rows already stored (redelivered or repeated messages)",
            ["table"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "carewatch_ingest_dead_letters",
            "Messages rejected into the dead-letter table",
            ["reason"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "carewatch_ingest_batch_seconds",
            "Time to write one batch (COPY + insert + commit)",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.lag_seconds = Histogram(
            "carewatch_ingest_publish_to_commit_seconds",
            "From a reading's ts (the device's clock) to its commit",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.subscribed = Gauge(
            "carewatch_ingest_subscribed",
            "1 while connected with the data subscription confirmed by the broker",
            registry=registry,
        )
        self.write_failures = Counter(
            "carewatch_ingest_write_failures",
            "Batch writes that failed and were retried",
            registry=registry,
        )
        # `subscribed` alone stays 1 while the database is away and nothing is stored.
        self.database_up = Gauge(
            "carewatch_ingest_database_up",
            "1 while the worker's last database operation succeeded, 0 while it retries",
            registry=registry,
        )
