"""Who an ingest worker is among several (`carewatch ingest --worker N`): table-driven."""

from __future__ import annotations

import pytest

from ingest.errors import ConfigError
from ingest.scaleout import WorkerIdentity, worker_identity


def identity(**options: object) -> WorkerIdentity:
    given: dict[str, object] = {
        "worker": None,
        "client_id": None,
        "share_group": None,
        "metrics_port": None,
        "base_client_id": "carewatch-ingest",
        "default_metrics_port": 9101,
        "worker_metrics_base": 9110,
    }
    given.update(options)
    return worker_identity(**given)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, WorkerIdentity("carewatch-ingest", None, 9101)),
        ({"worker": 1}, WorkerIdentity("carewatch-ingest-1", "carewatch-ingest", 9111)),
        ({"worker": 12}, WorkerIdentity("carewatch-ingest-12", "carewatch-ingest", 9122)),
        (
            {"worker": 2, "share_group": "ingest"},
            WorkerIdentity("carewatch-ingest-2", "ingest", 9112),
        ),
        (
            {"worker": 3, "worker_metrics_base": 0},
            WorkerIdentity("carewatch-ingest-3", "carewatch-ingest", 0),
        ),
        (
            {"worker": 3, "metrics_port": 0},
            WorkerIdentity("carewatch-ingest-3", "carewatch-ingest", 0),
        ),
        (
            {"worker": 3, "client_id": "carewatch-edge-a"},
            WorkerIdentity("carewatch-edge-a", "carewatch-ingest", 9113),
        ),
        (
            {"share_group": "g", "client_id": "carewatch-w9"},
            WorkerIdentity("carewatch-w9", "g", 9101),
        ),
        ({"metrics_port": 0}, WorkerIdentity("carewatch-ingest", None, 0)),
    ],
    ids=[
        "single-worker-as-before",
        "worker-1",
        "worker-12",
        "own-group",
        "metrics-off-by-base",
        "metrics-off-by-option",
        "explicit-client-id",
        "group-without-worker-number",
        "single-worker-no-metrics",
    ],
)
def test_identity(options: dict[str, object], expected: WorkerIdentity) -> None:
    assert identity(**options) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"worker": 0},
        {"share_group": "a/b"},
        {"share_group": "a+"},
        {"share_group": "#"},
        {"share_group": "with space"},
        {"metrics_port": 70000},
        {"client_id": "edge-a"},  # a device could be provisioned as `edge-a` (issue 13)
        {"worker": 2, "base_client_id": "ingest"},
    ],
    ids=["worker-0", "slash", "plus", "hash", "space", "port", "device-like-id", "base-id"],
)
def test_refused(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        identity(**options)
