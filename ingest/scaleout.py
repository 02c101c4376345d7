"""Who one ingest worker is when several share the stream: its MQTT client id (its own
persistent session), the MQTT 5 shared-subscription group, and its metrics port.

Pure: the CLI options and settings in, one identity out (docs/scaling.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.errors import ConfigError
from services.operations.broker.acl import check_service_client_id

DEFAULT_SHARE_GROUP = "carewatch-ingest"
# MQTT 5 §4.8.2: a ShareName is a non-empty string without "/", "+" or "#".
_SHARE_NAME = re.compile(r"[^/+#\s]{1,64}")


@dataclass(frozen=True, slots=True)
class WorkerIdentity:
    client_id: str
    share_group: str | None  # None: a plain subscription, this worker takes every message
    metrics_port: int  # 0: no metrics endpoint


def worker_identity(
    *,
    worker: int | None,
    client_id: str | None,
    share_group: str | None,
    metrics_port: int | None,
    base_client_id: str,
    default_metrics_port: int,
    worker_metrics_base: int,
) -> WorkerIdentity:
    """Explicit options win; `worker` N fills in the rest: client id `BASE-N`, the default
    share group, and metrics on `worker_metrics_base + N` (0: none). Without `worker` and
    `share_group` this is the single worker of a one-machine install, as it always was."""
    if worker is not None and worker < 1:
        raise ConfigError(f"--worker must be 1 or more, not {worker}")
    group: str | None
    if worker is not None:
        group = share_group or DEFAULT_SHARE_GROUP
        client = client_id or f"{base_client_id}-{worker}"
        if metrics_port is None:
            metrics_port = worker_metrics_base + worker if worker_metrics_base else 0
    else:
        group = share_group
        client = client_id or base_client_id
        if metrics_port is None:
            metrics_port = default_metrics_port
    if group is not None and not _SHARE_NAME.fullmatch(group):
        raise ConfigError(f"share group {group!r}: 1-64 characters without '/', '+', '#' or spaces")
    check_service_client_id(client, "the ingest worker's client id")
    if not 0 <= metrics_port <= 65535:
        raise ConfigError(f"metrics port {metrics_port} is not a TCP port")
    return WorkerIdentity(client_id=client, share_group=group or None, metrics_port=metrics_port)
