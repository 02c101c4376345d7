"""Run a simulated ward: each device on its own MQTT connection, paced by a monotonic clock."""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final, Protocol

import numpy as np
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from device_sim.devices import SimDevice
from device_sim.messages import (
    DeviceClock,
    Message,
    bed_message,
    status_message,
    vitals_message,
)
from device_sim.physiology import DEFAULT_TZ, ResidentState, bed_at, new_resident, vitals_at
from device_sim.publisher import DEFAULT_MAX_INFLIGHT, DevicePublisher
from device_sim.status import PowerState, new_power, status_at

log = logging.getLogger("carewatch.sim")

STATUS_EVERY_S: Final = 60.0  # simulated seconds
LOG_EVERY_S: Final = 10.0  # real seconds, when there is no progress bar
PROGRESS_EVERY_S: Final = 0.1
LAG_WARNING_S: Final = 5.0
CLOSE_TIMEOUT_S: Final = 10.0
_MAX_PARALLEL_CONNECTS: Final = 16
_RESIDENT_STREAM: Final = 0  # keeps the resident and device random streams apart
_DEVICE_STREAM: Final = 1


class Publisher(Protocol):
    """What the run loop needs of a connected device connection (DevicePublisher, or a fake)."""

    def publish(self, message: Message) -> None: ...

    def close(self, timeout_s: float = ..., *, announce_offline: bool = ...) -> int: ...

    def take_reconnected(self) -> bool: ...

    @property
    def rejected(self) -> int: ...


PublisherFactory = Callable[[SimDevice], Publisher]


@dataclass(frozen=True, slots=True)
class SimSummary:
    """What a run did. `messages_published` counts messages handed to the broker connection;
    of those, `messages_rejected` were refused by the broker (e.g. its ACL) and
    `messages_unacked` were still unacknowledged when the run gave up waiting."""

    messages_published: int
    by_stream: dict[str, int]
    elapsed_s: float
    messages_rejected: int = 0
    messages_unacked: int = 0


def run_simulation(
    devices: list[SimDevice],
    *,
    host: str,
    port: int,
    rate_hz: float,
    duration_s: float | None,
    seed: int,
    stop: threading.Event,
    speed: float = 1.0,
    start: datetime | None = None,
    progress: bool = True,
    tls: bool = False,
    ca_file: str | None = None,
    max_inflight: int = DEFAULT_MAX_INFLIGHT,
    tz: tzinfo = DEFAULT_TZ,
    connect: PublisherFactory | None = None,
) -> SimSummary:
    """Publish until `duration_s` simulated seconds have passed or `stop` is set.

    Every 1/rate_hz simulated seconds each wearable publishes `vitals` and each bed sensor
    `bed`; every 60 simulated seconds, and first of all, each device publishes its retained
    `status`. Simulated time is `start + speed * real time elapsed`. Without `start`, the run
    starts now, or, when speed > 1 and the duration is known, early enough to end now, so that
    no timestamp lies in the future (ingest rejects those). Same seed, same readings.

    `connect` makes a connected publisher for a device (default: a DevicePublisher to
    host:port with the device's own credentials). Raises SimulatorError subclasses when a
    device cannot connect or the broker stops acknowledging.
    """
    if not devices:
        raise ValueError("no devices to simulate")
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be positive, got {rate_hz}")
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed must be positive, got {speed}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s must be None or >= 0, got {duration_s}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if start is not None and start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    ids = [d.device_id for d in devices]
    if len(set(ids)) != len(ids):
        raise ValueError("device ids repeat")
    if start is None:
        start = _default_start(datetime.now(UTC), duration_s, speed)
    if connect is None:

        def connect(device: SimDevice) -> Publisher:
            publisher = DevicePublisher(
                device, host=host, port=port, tls=tls, ca_file=ca_file, max_inflight=max_inflight
            )
            publisher.connect()
            return publisher

    ward = _Ward(sorted(devices, key=lambda d: d.device_id), seed, tz)
    log.info(
        "simulating %d devices (%d residents) at %g Hz, speed %g, from %s",
        len(devices),
        len(ward.residents),
        rate_hz,
        speed,
        start.astimezone(tz).isoformat(timespec="seconds"),
    )
    publishers = _connect_all(ward.devices, connect)
    began = time.monotonic()
    failed = False
    try:
        with _reporter(progress, duration_s, len(devices), start, tz) as report:
            _loop(ward, publishers, rate_hz, duration_s, speed, start, stop, report)
    except BaseException:
        failed = True
        raise
    finally:
        # After a failure the broker may be gone: do not wait the full timeout for acks.
        unacked = _close_all(publishers, timeout_s=2.0 if failed else CLOSE_TIMEOUT_S)
    elapsed = time.monotonic() - began
    summary = SimSummary(
        messages_published=sum(ward.by_stream.values()),
        by_stream=dict(ward.by_stream),
        elapsed_s=elapsed,
        messages_rejected=sum(p.rejected for p in publishers.values()),
        messages_unacked=unacked,
    )
    log.info(
        "published %d messages in %.1f s (%.0f/s); rejected %d, unacknowledged %d",
        summary.messages_published,
        elapsed,
        summary.messages_published / elapsed if elapsed > 0 else 0.0,
        summary.messages_rejected,
        summary.messages_unacked,
    )
    return summary


def _default_start(now: datetime, duration_s: float | None, speed: float) -> datetime:
    if speed <= 1.0:
        return now
    if duration_s is None:
        log.warning(
            "speed %g with no duration: timestamps will run ahead of the clock, and ingest "
            "rejects those more than a few minutes in the future; pass a start in the past",
            speed,
        )
        return now
    # Simulated time catches up with real time exactly at the end of the run.
    return now - timedelta(seconds=duration_s * (1.0 - 1.0 / speed))


class _Ward:
    """The simulated residents and devices, their random streams, clocks and batteries."""

    def __init__(self, devices: Sequence[SimDevice], seed: int, tz: tzinfo) -> None:
        self.devices = devices
        self.tz = tz
        self.residents: dict[str, ResidentState] = {}
        self.resident_rngs: dict[str, np.random.Generator] = {}
        self.device_rngs: dict[str, np.random.Generator] = {}
        self.power: dict[str, PowerState] = {}
        self.clocks: dict[str, DeviceClock] = {}
        self.by_stream: Counter[str] = Counter()
        for device in devices:
            key = device.resident_key
            if key not in self.residents:
                # Keyed by name, not position: adding a device leaves the others' values alone.
                rng = np.random.default_rng([seed, _RESIDENT_STREAM, _stable_hash(key)])
                self.resident_rngs[key] = rng
                self.residents[key] = new_resident(rng)
            rng = np.random.default_rng([seed, _DEVICE_STREAM, _stable_hash(device.device_id)])
            self.device_rngs[device.device_id] = rng
            self.power[device.device_id] = new_power(rng)
            self.clocks[device.device_id] = DeviceClock()

    def status(self, device: SimDevice, t: datetime) -> Message:
        power, reading = status_at(
            self.power[device.device_id], t, device.kind, self.device_rngs[device.device_id]
        )
        self.power[device.device_id] = power
        seq, ts_ms = self.clocks[device.device_id].stamp(t)
        return status_message(device, reading, seq=seq, ts_ms=ts_ms)

    def reading(self, device: SimDevice, t: datetime) -> Message:
        key = device.resident_key
        state, rng = self.residents[key], self.resident_rngs[key]
        seq, ts_ms = self.clocks[device.device_id].stamp(t)
        if device.kind == "wearable":
            state, vitals = vitals_at(state, t, rng, self.tz)
            message = vitals_message(device, vitals, seq=seq, ts_ms=ts_ms)
        else:
            state, bed = bed_at(state, t, rng, self.tz)
            message = bed_message(device, bed, seq=seq, ts_ms=ts_ms)
        self.residents[key] = state
        return message


Report = Callable[[float, datetime, int], None]


def _loop(
    ward: _Ward,
    publishers: dict[str, Publisher],
    rate_hz: float,
    duration_s: float | None,
    speed: float,
    start: datetime,
    stop: threading.Event,
    report: Report,
) -> None:
    end = math.inf if duration_s is None else duration_s
    began = time.monotonic()
    data_tick = status_tick = 0
    last_lag_warning = -math.inf
    while not stop.is_set():
        # Each event's offset is computed from the start, never by adding up intervals, so
        # neither float error nor a late wake-up accumulates into drift.
        data_at = data_tick / rate_hz
        status_at_ = status_tick * STATUS_EVERY_S
        offset = min(data_at, status_at_)
        if offset >= end:
            break
        delay = began + offset / speed - time.monotonic()
        if delay > 0:
            if stop.wait(delay):
                break
        elif -delay > LAG_WARNING_S and time.monotonic() - last_lag_warning > 30.0:
            last_lag_warning = time.monotonic()
            log.warning(
                "%.1f s behind schedule: the broker or this machine cannot keep up with "
                "%d devices at %g Hz and speed %g",
                -delay,
                len(ward.devices),
                rate_hz,
                speed,
            )
        t = start + timedelta(seconds=offset)
        with_status = status_at_ == offset
        with_data = data_at == offset
        for device in ward.devices:
            publisher = publishers[device.device_id]
            # After a reconnection the broker has published the will (online: false): say
            # we are back without waiting for the next regular status.
            if publisher.take_reconnected() or with_status:
                _publish(ward, publisher, ward.status(device, t))
            if with_data:
                _publish(ward, publisher, ward.reading(device, t))
        status_tick += with_status
        data_tick += with_data
        report(offset, t, sum(ward.by_stream.values()))


def _publish(ward: _Ward, publisher: Publisher, message: Message) -> None:
    publisher.publish(message)
    ward.by_stream[message.stream] += 1


def _connect_all(devices: Sequence[SimDevice], connect: PublisherFactory) -> dict[str, Publisher]:
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
            _close_all(publishers, timeout_s=2.0)
    if errors:
        if len(errors) > 1:
            log.error("%d of %d devices failed to connect", len(errors), len(devices))
        raise errors[0]
    return publishers


def _close_all(publishers: dict[str, Publisher], *, timeout_s: float) -> int:
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


@contextmanager
def _reporter(
    progress: bool, duration_s: float | None, n_devices: int, start: datetime, tz: tzinfo
) -> Iterator[Report]:
    """A progress bar over simulated time when the end is known, else a periodic log line."""
    if progress and duration_s is not None and duration_s > 0:
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[sim_time]}"),
            TextColumn("{task.fields[messages]} msgs"),
            TimeRemainingColumn(),
        )
        task = bar.add_task(
            f"{n_devices} devices",
            total=duration_s,
            sim_time=_clock_text(start, tz),
            messages=0,
        )
        shown = -math.inf
        last = (start, 0)

        def update(offset: float, t: datetime, messages: int) -> None:
            nonlocal shown, last
            last = (t, messages)
            now = time.monotonic()
            # Redrawing on every tick would cost more than the ticks at high speed.
            if now - shown >= PROGRESS_EVERY_S:
                shown = now
                bar.update(task, completed=offset, sim_time=_clock_text(t, tz), messages=messages)

        with bar:
            yield update
            t, messages = last
            bar.update(task, sim_time=_clock_text(t, tz), messages=messages)
            if not bar.finished:
                bar.update(task, completed=min(duration_s, (t - start).total_seconds()))
        return

    began = last_time = time.monotonic()
    last_messages = 0

    def log_rate(_offset: float, t: datetime, messages: int) -> None:
        nonlocal last_time, last_messages
        now = time.monotonic()
        if now - last_time >= LOG_EVERY_S:
            rate = (messages - last_messages) / (now - last_time)
            log.info(
                "sim: %d messages in %.0f s (%.0f/s now), simulated time %s",
                messages,
                now - began,
                rate,
                _clock_text(t, tz),
            )
            last_time, last_messages = now, messages

    yield log_rate


def _clock_text(t: datetime, tz: tzinfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _stable_hash(text: str) -> int:
    # hash() of a str changes between processes; the seed must not.
    return zlib.crc32(text.encode("utf-8"))
