"""The devices' broker connections for a run: connected a few at a time (all or none), and
closed together."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Final, Protocol

from device_sim.devices import SimDevice
from device_sim.messages import Message

log = logging.getLogger("carewatch.sim")

_MAX_PARALLEL_CONNECTS: Final = 16


class Publisher(Protocol):
    """What the run loop needs of a connected device connection (DevicePublisher, or a fake)."""

    def publish(self, message: Message) -> None: ...

    def close(self, timeout_s: float = ..., *, announce_offline: bool = ...) -> int: ...

    def take_reconnected(self) -> bool: ...

    @property
    def rejected(self) -> int: ...


PublisherFactory = Callable[[SimDevice], Publisher]


def connect_all(devices: Sequence[SimDevice], connect: PublisherFactory) -> dict[str, Publisher]:
    """Connect every device (a few at a time), or close those that did and raise."""
    workers = max(1, min(_MAX_PARALLEL_CONNECTS, len(devices)))
    futures: list[tuple[SimDevice, Future[Publisher]]] = []
    finished = False
    try:
        # Leaving this block, even on Ctrl-C, waits for the connects already started.
        with ThreadPoolExecutor(workers, thread_name_prefix="sim-connect") as pool:
            for device in devices:
                futures.append((device, pool.submit(connect, device)))
            wait([f for _, f in futures])
        finished = True
    finally:
        publishers: dict[str, Publisher] = {}
        errors: list[BaseException] = []
        for device, future in futures:
            if future.cancelled():
                continue
            if (exc := future.exception()) is not None:
                errors.append(exc)
            else:
                publishers[device.device_id] = future.result()
        if errors or not finished:
            close_all(publishers, timeout_s=2.0)
    if errors:
        if len(errors) > 1:
            log.error("%d of %d devices failed to connect", len(errors), len(devices))
        raise errors[0]
    return publishers


def close_all(publishers: dict[str, Publisher], *, timeout_s: float) -> int:
    if not publishers:
        return 0
    workers = max(1, min(_MAX_PARALLEL_CONNECTS, len(publishers)))
    with ThreadPoolExecutor(workers, thread_name_prefix="sim-close") as pool:
        results = list(pool.map(lambda p: _close_quietly(p, timeout_s), publishers.values()))
    return sum(results)


def _close_quietly(publisher: Publisher, timeout_s: float) -> int:
    try:
        return publisher.close(timeout_s)
    except Exception:
        log.exception("closing %r failed", publisher)
        return 0
