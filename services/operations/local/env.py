"""Settings and environments for child processes and throwaway stacks (tests, benchmarks)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from services.operations.local.system import free_port
from services.settings import Settings


def service_env(settings: Settings) -> dict[str, str]:
    """This process's environment plus what a child service needs to find the same stack."""
    env = dict(os.environ)
    env.update(
        CAREWATCH_DATA_DIR=str(Path(settings.data_dir).resolve()),
        CAREWATCH_MQTT_HOST=settings.mqtt_host,
        CAREWATCH_MQTT_PORT=str(settings.mqtt_port),
        CAREWATCH_API_HOST=settings.api_host,
        CAREWATCH_API_PORT=str(settings.api_port),
        CAREWATCH_PG_PORT=str(settings.pg_port),
        CAREWATCH_INGEST_METRICS_PORT=str(settings.ingest_metrics_port),
        CAREWATCH_DETECTOR_METRICS_PORT=str(settings.detector_metrics_port),
        CAREWATCH_ALERTS_METRICS_PORT=str(settings.alerts_metrics_port),
    )
    if settings.public_url is not None:
        env["CAREWATCH_PUBLIC_URL"] = settings.public_url
    return env


def scratch_settings(prefix: str) -> Settings:
    """A fresh data dir under /tmp and free ports for everything: a stack of its own.

    The dir is open to traverse: run as root, PostgreSQL and Mosquitto run as their own
    system users and must reach their directories inside it."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    data_dir.chmod(0o755)
    return Settings(
        data_dir=data_dir,
        pg_port=free_port(),
        mqtt_port=free_port(),
        api_port=free_port(),
        ingest_metrics_port=free_port(),
        detector_metrics_port=free_port(),
        alerts_metrics_port=free_port(),
    )
