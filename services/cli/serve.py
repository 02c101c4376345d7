"""The long-running services, each `carewatch NAME` run by `serve`: ingest, detect, alerts;
and the API, which uvicorn serves."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import Service, fail, serve, setup_logging
from services.errors import CareWatchError
from services.settings import Settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

WorkerOption = Annotated[
    int | None,
    typer.Option(
        "--worker",
        help="Worker N of several sharing the stream: client id CLIENT_ID-N, the shared "
        "group, metrics on CAREWATCH_INGEST_WORKER_METRICS_BASE+N (docs/scaling.md).",
    ),
]
ShareGroupOption = Annotated[
    str | None, typer.Option(help="MQTT 5 shared-subscription group (several workers).")
]
IngestClientOption = Annotated[str | None, typer.Option(help="MQTT client id (one per worker).")]
IngestMetricsOption = Annotated[
    int | None, typer.Option(help="Serve /metrics on this loopback port (0: none).")
]
SitesOption = Annotated[
    str | None,
    typer.Option(
        help="Only these sites, comma-separated: one partition of several "
        "(default: CAREWATCH_DETECTOR_SITES, else every site; docs/scaling.md)."
    ),
]
PartitionOption = Annotated[
    str | None,
    typer.Option(
        help="The partition's stable name: its MQTT session and cursor "
        "(default: CAREWATCH_DETECTOR_PARTITION, else the sites joined by _)."
    ),
]
DetectorClientOption = Annotated[
    str | None, typer.Option(help="MQTT client id (default carewatch-detector[-PARTITION]).")
]
DetectorMetricsOption = Annotated[
    int | None,
    typer.Option(help="Serve /metrics on this loopback port (default: the setting; 0: none)."),
]


def ingest(
    worker_no: WorkerOption = None,
    share_group: ShareGroupOption = None,
    client_id: IngestClientOption = None,
    metrics_port: IngestMetricsOption = None,
) -> None:
    """Run the ingest worker: MQTT → validated readings → TimescaleDB."""

    def build(settings: Settings, registry: CollectorRegistry) -> tuple[Service, int]:
        from ingest.errors import ConfigError as IngestConfigError
        from ingest.metrics import IngestMetrics
        from ingest.scaleout import worker_identity
        from ingest.worker import IngestWorker, WorkerConfig, retention_job
        from services.errors import ConfigError
        from services.settings import database_url, mqtt_ingest_endpoint
        from services.trends.refresh import refresh_job

        try:
            identity = worker_identity(
                worker=worker_no if worker_no is not None else settings.ingest_worker,
                client_id=client_id,
                share_group=share_group or settings.ingest_share_group,
                metrics_port=metrics_port,
                base_client_id=settings.ingest_client_id,
                default_metrics_port=settings.ingest_metrics_port,
                worker_metrics_base=settings.ingest_worker_metrics_base,
            )
        except IngestConfigError as exc:  # the worker's own error, told the CLI's way
            raise ConfigError(str(exc)) from None
        config = WorkerConfig(
            client_id=identity.client_id,
            batch_size=settings.ingest_batch_size,
            flush_s=settings.ingest_flush_ms / 1000,
            queue_max=settings.ingest_queue_max,
            share_group=identity.share_group,
            retention_days=settings.retention_days,
            dead_letter_days=settings.dead_letter_days,
            dead_letter_max_rows=settings.dead_letter_max_rows,
        )
        worker = IngestWorker(
            config,
            mqtt_endpoint=mqtt_ingest_endpoint(settings),
            database_url=database_url(settings, "ingest"),
            metrics=IngestMetrics(registry),
            jobs=(retention_job(config), refresh_job()),
        )
        logging.getLogger("carewatch.ingest").info(
            "client id %s, %s", identity.client_id, worker.config.topic_filter
        )
        return worker, identity.metrics_port

    serve("ingest", build)


def detect(
    sites: SitesOption = None,
    partition: PartitionOption = None,
    client_id: DetectorClientOption = None,
    metrics_port: DetectorMetricsOption = None,
) -> None:
    """Run the streaming detector: the device stream → rules → alert candidates."""

    def build(settings: Settings, registry: CollectorRegistry) -> tuple[Service, int]:
        from services.detector.config import DetectorConfig, tune_gc
        from services.detector.metrics import DetectorMetrics
        from services.detector.partition import parse_partition
        from services.detector.service import Detector
        from services.operations.broker.acl import check_service_client_id
        from services.settings import database_url, mqtt_ingest_endpoint

        tune_gc()

        owned = parse_partition(
            sites if sites is not None else settings.detector_sites,
            partition or settings.detector_partition,
        )
        if client_id is not None:
            check_service_client_id(client_id, "--client-id")
        detector = Detector(
            DetectorConfig(partition=owned, client_id=client_id),
            mqtt_endpoint=mqtt_ingest_endpoint(settings),
            database_url=database_url(settings, "detector"),
            metrics=DetectorMetrics(registry),
        )
        port = settings.detector_metrics_port if metrics_port is None else metrics_port
        return detector, port

    serve("detect", build)


def alerts() -> None:
    """Run the alert service: candidates → incidents → escalation → notifications (apprise)."""

    def build(settings: Settings, registry: CollectorRegistry) -> tuple[Service, int]:
        from services.alerts.links import LinkSigner
        from services.alerts.metrics import AlertMetrics
        from services.alerts.service import AlertService, AlertServiceConfig
        from services.referrals.for_alerts import AlertReferrals
        from services.settings import admin_token, database_url

        service = AlertService(
            database_url(settings, "alerts"),
            signer=LinkSigner(admin_token(settings), ttl_s=settings.ack_link_ttl_s),
            metrics=AlertMetrics(registry),
            referrals=AlertReferrals(),
            config=AlertServiceConfig(base_url=settings.base_url),
        )
        return service, settings.alerts_metrics_port

    serve("alerts", build)


def api() -> None:
    """Run the HTTP API and web pages."""
    from services.api.app import create_app
    from services.api.server import ApiServer, server_config

    setup_logging("api")
    settings = Settings()
    try:
        application = create_app(settings)
    except CareWatchError as exc:
        raise fail(exc) from None
    server = ApiServer(server_config(application, settings), application)
    server.run()
    if not server.started:  # as uvicorn.run: a port in use (or the like) is a failed start
        raise typer.Exit(3)
