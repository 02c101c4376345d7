"""`carewatch up`: the local stack plus every service as a child process, in the foreground.

Services run as separate processes (as in production, so each fails alone); one that dies
is restarted with a backoff. Ctrl-C stops them in order: simulator, API, ingest, broker,
database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.errors import ServiceError
from services.operations.local.demo import ensure_demo_people
from services.operations.local.env import service_env
from services.operations.local.process import ChildProcess
from services.operations.local.stack import LocalStack
from services.operations.local.system import ensure_port_free
from services.settings import Settings

log = logging.getLogger("carewatch.up")


# A service that ran this long before dying was healthy: its next restart is quick again.
HEALTHY_RUN_S = 60.0


@dataclass
class Supervised:
    child: ChildProcess
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default_factory=time.monotonic)


def service_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli", *args]


def sim_argv(*, residents: int, rate: float) -> list[str]:
    """The simulator on the demo ward, as its own program (`carewatch sim`'s options): this
    process never imports it."""
    return [sys.executable, "-m", "device_sim", "--residents", str(residents), "--rate", str(rate)]


def upgrade_argv() -> list[str]:
    """`carewatch upgrade-state` as its own program: this process never imports it."""
    return [sys.executable, "-m", "upgrade"]


UPGRADE_TIMEOUT_S = 600.0


def upgrade_state(env: dict[str, str]) -> None:
    """Rewrite the state an earlier release stored in its binary format as JSON, before the
    detector and the alert service start (they refuse it); a failure stops `carewatch up`
    with the command's error."""
    try:
        done = subprocess.run(upgrade_argv(), env=env, timeout=UPGRADE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ServiceError(
            f"`carewatch upgrade-state` took over {UPGRADE_TIMEOUT_S:.0f} s"
        ) from None
    if done.returncode != 0:
        raise ServiceError(
            f"`carewatch upgrade-state` failed (exit {done.returncode}, see above): the "
            "detector and the alert service would refuse the state it could not rewrite"
        )


# Days of the demo ward's history written on a fresh data dir (`carewatch demo backfill`).
HISTORY_DAYS = 7
HISTORY_TIMEOUT_S = 600.0


def backfill_history(env: dict[str, str], *, residents: int, days: float) -> None:
    """The demo ward's history, by the simulator's own command (never imported here), in the
    foreground so that its progress bar shows; it skips a ward that has readings. A failure
    leaves the demo without history, not without a demo."""
    argv = service_argv("demo", "backfill", "--residents", str(residents), "--days", str(days))
    try:
        done = subprocess.run(argv, env=env, timeout=HISTORY_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        log.warning("the demo history took over %.0f s; going on without it", HISTORY_TIMEOUT_S)
        return
    if done.returncode != 0:
        log.warning("the demo history was not written (exit %d); see above", done.returncode)


def up_env(settings: Settings) -> dict[str, str]:
    """The services' environment under `carewatch up`."""
    env = service_env(settings)
    env.pop("CAREWATCH_DEMO_PAGER", None)
    if settings.local_database and settings.local_broker:
        # The demo's own stack: its care team pages /demo/pager (loopback only). Never with an
        # external database or broker, where the API would refuse to start with it.
        env["CAREWATCH_DEMO_PAGER"] = "1"
    return env


def check_ports(settings: Settings) -> None:
    """Every port the services will listen on is free, before anything starts: a service
    that cannot bind would otherwise fail over and over behind "CareWatch is up"."""
    ensure_port_free(
        settings.api_host, settings.api_port, what="the API", env_var="CAREWATCH_API_PORT"
    )
    for service, port in (
        ("ingest", settings.ingest_metrics_port),
        ("detector", settings.detector_metrics_port),
        ("alerts", settings.alerts_metrics_port),
    ):
        if port:  # 0: no metrics endpoint
            ensure_port_free(
                settings.metrics_host,
                port,
                what=f"the {service} metrics",
                env_var=f"CAREWATCH_{service.upper()}_METRICS_PORT",
            )


def run_up(
    settings: Settings,
    *,
    sim: bool,
    residents: int,
    rate: float,
    history_days: float = HISTORY_DAYS,
) -> None:
    check_ports(settings)
    stack = LocalStack(settings)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stack.start()
    logs = Path(settings.data_dir).resolve() / "log"
    env = up_env(settings)
    users = asyncio.run(ensure_demo_people(settings))
    services: list[Supervised] = []
    try:
        upgrade_state(env)
        if sim and history_days > 0:
            backfill_history(env, residents=residents, days=history_days)
        if stop.is_set():  # Ctrl-C during the backfill
            return
        wanted = [
            ("ingest", service_argv("ingest")),
            ("detect", service_argv("detect")),
            ("alerts", service_argv("alerts")),
            ("api", service_argv("api")),
        ]
        if sim:
            wanted.append(("sim", sim_argv(residents=residents, rate=rate)))
        for name, argv in wanted:
            child = ChildProcess(
                name, argv, log_path=logs / f"{name}.log", env=env, stop_signal=signal.SIGINT
            )
            child.start()
            services.append(Supervised(child))
        print(
            f"CareWatch is up: API and web page http://{settings.api_host}:{settings.api_port} "
            f"(docs at /docs), MQTT {settings.mqtt_host}:{settings.mqtt_port}, "
            f"logs in {logs}. Demo users and their passwords: {users}; pages to the demo "
            f"staff arrive at http://{settings.api_host}:{settings.api_port}/demo/pager"
            + ("; make one happen with `carewatch demo event fall`. " if sim else ". ")
            + "Ctrl-C stops everything.",
            flush=True,
        )
        while not stop.wait(0.5):
            for s in services:
                keep_alive(s)
    finally:
        for s in reversed(services):
            log.info("stopping %s", s.child.name)
            s.child.stop(timeout=20)
        stack.stop()
        print("CareWatch stopped.", flush=True)


def keep_alive(s: Supervised) -> None:
    """Restart a service that exited, waiting longer after each crash in a row (1 s, 2 s, …
    30 s); a service that had run for a minute starts the count again."""
    if s.child.alive():
        return
    now = time.monotonic()
    if s.next_start == 0.0:
        code = s.child.proc.returncode if s.child.proc else None
        log.warning(
            "%s exited (code %s); last log lines:\n%s", s.child.name, code, s.child.log_tail(8)
        )
        if now - s.started_at >= HEALTHY_RUN_S:
            s.restarts = 0
        s.next_start = now + min(30.0, 2.0**s.restarts)
        return
    if now >= s.next_start:
        s.restarts += 1
        s.next_start = 0.0
        log.info("restarting %s (restart %d)", s.child.name, s.restarts)
        s.child.start()
        s.started_at = now
