"""The services a benchmark runs as `carewatch up` runs them (child processes, readiness and
figures through /metrics), and the one-caregiver care team whose pages it receives."""

from __future__ import annotations

import signal
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from psycopg import AsyncConnection

from bench.common import histogram_buckets, quantile
from services.careteam.store import store_team
from services.careteam.team import load_care_team
from services.operations.local.env import service_env
from services.operations.local.process import ChildProcess
from services.operations.local.supervisor import service_argv
from services.operations.local.system import free_port
from services.settings import Settings, database_url

STAFF_ID = "cg-bench"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Service:
    """A `carewatch <command>` child process started as `carewatch up` starts it, with its
    metrics endpoint."""

    def __init__(
        self,
        settings: Settings,
        command: str,
        metrics_port: int,
        ready: str,
        *,
        args: Sequence[str] = (),
        name: str | None = None,  # the child's name (logs, CPU role); default the command
    ) -> None:
        self.metrics_port = metrics_port
        self.ready = ready
        name = name or command
        self.child = ChildProcess(
            name,
            service_argv(command, *args),
            log_path=Path(settings.data_dir) / "log" / f"{name}.log",
            env=service_env(settings),
            stop_signal=signal.SIGINT,
        )

    def start(self) -> None:
        self.child.start()
        self.child.wait_until(lambda: self.sample(self.ready) == 1.0, timeout=60, what="ready")

    def stop(self) -> None:
        self.child.stop(timeout=30)

    def samples(self) -> Samples:
        try:
            url = f"http://127.0.0.1:{self.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return {}
        return {
            (s.name, tuple(sorted(s.labels.items()))): float(s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def sample(self, name: str) -> float:
        return self.samples().get((name, ()), 0.0)


def pipeline(settings: Settings, partitions: Sequence[str] = ()) -> list[Service]:
    """Ingest, detector and alert service, in the order they are started. With `partitions`
    (sites), one detector per site, `carewatch detect --sites SITE`, named `detect-SITE`
    (docs/scaling.md); without, the single detector of every site."""
    ready = "carewatch_detector_subscribed"
    if partitions:
        detectors = []
        for site in partitions:
            port = free_port()
            args = ("--sites", site, "--metrics-port", str(port))
            detectors.append(
                Service(settings, "detect", port, ready, args=args, name=f"detect-{site}")
            )
    else:
        detectors = [Service(settings, "detect", settings.detector_metrics_port, ready)]
    return [
        Service(settings, "ingest", settings.ingest_metrics_port, "carewatch_ingest_subscribed"),
        *detectors,
        Service(settings, "alerts", settings.alerts_metrics_port, "carewatch_alerts_ready"),
    ]


def histogram_ms(service: Service, name: str, q: float) -> float | None:
    buckets = histogram_buckets(service.samples(), name)
    if not buckets or buckets[-1][1] <= 0:
        return None
    return round(quantile(buckets, q) * 1000, 1)


async def store_care_team(settings: Settings, channel: str, sites: Sequence[str]) -> None:
    """One caregiver on a 24 h shift at each of `sites`, paged on `channel`."""
    team = load_care_team(
        {
            "staff": [
                {
                    "id": STAFF_ID,
                    "name": "Bench Caregiver",
                    "role": "caregiver",
                    "channels": [channel],
                },
            ],
            "shifts": [
                {"staff": STAFF_ID, "site": site, "start": "00:00", "end": "00:00"}
                for site in sites
            ],
            # The benches tell residents apart by the name at the end of a page's title
            # (bench/caregiver.py): the full form, not the product's private default.
            "site_defaults": {"language": "en", "details": "full"},
        }
    )
    async with await AsyncConnection.connect(database_url(settings)) as conn:
        await store_team(conn, team, by="bench")
        await conn.commit()
