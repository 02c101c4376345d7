"""The alert service's Prometheus metrics: intake, commands, pages, deliveries, the outbox and
the decision step's time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["AlertMetrics"]


class AlertMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ready = Gauge(
            "carewatch_alerts_ready",
            "1 once the book is restored and the service is taking work",
            registry=registry,
        )
        self.candidates = Counter(
            "carewatch_alert_candidates", "Alert candidates taken", registry=registry
        )
        self.unroutable = Counter(
            "carewatch_alert_candidates_unroutable",
            "Candidates about a subject no site or unit could be found for",
            registry=registry,
        )
        self.commands = Counter(
            "carewatch_alert_commands", "Staff commands applied", ["status"], registry=registry
        )
        self.pages = Counter(
            "carewatch_alert_pages", "Pages queued, one per recipient", registry=registry
        )
        self.unstaffed = Counter(
            "carewatch_alert_pages_unstaffed",
            "Escalation steps that found nobody on duty to page",
            registry=registry,
        )
        self.deliveries = Counter(
            "carewatch_notification_deliveries",
            "Delivery attempts",
            ["kind", "outcome"],
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "carewatch_notification_delivery_seconds",
            "Time one apprise send took",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.active = Gauge(
            "carewatch_alert_incidents_active",
            "Incidents not yet acknowledged or resolved",
            registry=registry,
        )
        self.undelivered = Gauge(
            "carewatch_alert_incidents_undelivered",
            "Active incidents paged but with no page delivered yet (every channel failing)",
            registry=registry,
        )
        self.pending = Gauge(
            "carewatch_notifications_pending", "Messages waiting in the outbox", registry=registry
        )
        self.step_seconds = Histogram(
            "carewatch_alert_step_seconds",
            "One decision step (candidates, commands, escalation, outbox writes)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry,
        )

    def delivered(self, kind: str, ok: bool, elapsed_ms: float) -> None:
        self.deliveries.labels(kind, "ok" if ok else "failed").inc()
        self.delivery_seconds.observe(elapsed_ms / 1000)
