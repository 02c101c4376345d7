"""What every `carewatch` command shares: its log format, the one-line error exit, stopping on
signals, and `serve`, the one way a long-running service is run."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import typer

from services.errors import CareWatchError
from services.settings import Settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


def setup_logging(service: str) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s",
    )


def fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def stop_on_signals(stop: threading.Event) -> None:
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())


class Service(Protocol):
    def run(self) -> None: ...

    def stop(self) -> None: ...


# Builds a service from the settings and the registry its metrics go to; returns it with the
# loopback port to serve those metrics on (0: none).
Build = Callable[[Settings, "CollectorRegistry"], tuple[Service, int]]


def serve(name: str, build: Build) -> None:
    """Run the long-running service `carewatch NAME`: build it (a configuration error is a
    one-line failure, before anything listens), serve its metrics on loopback, and run it
    until SIGINT or SIGTERM, which ask it to stop cleanly (finish and commit what it holds)."""
    from prometheus_client import CollectorRegistry, start_http_server

    setup_logging(name)
    settings = Settings()
    registry = CollectorRegistry()
    try:
        service, metrics_port = build(settings, registry)
    except CareWatchError as exc:
        raise fail(exc) from None
    if metrics_port:
        start_http_server(metrics_port, addr=settings.metrics_host, registry=registry)
    stop = threading.Event()
    stop_on_signals(stop)

    def stop_when_told() -> None:
        stop.wait()
        service.stop()

    threading.Thread(target=stop_when_told, daemon=True).start()
    try:
        service.run()
    except CareWatchError as exc:  # e.g. state it must not load (LegacyStateError)
        raise fail(exc) from None
