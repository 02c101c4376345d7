"""Run a simulation (`simulation.py`, pure) against the broker, each device on its own MQTT
connection, paced by a monotonic clock; or write its messages to a file (a dry run)."""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Final

from device_sim.connections import Publisher, PublisherFactory, close_all, connect_all
from device_sim.control import ControlServer
from device_sim.devices import SimDevice
from device_sim.faults import NO_FAULTS, Faults
from device_sim.labels import jsonable, write_labels
from device_sim.messages import Delivery
from device_sim.physiology import DEFAULT_TZ
from device_sim.progress import Report, reporter
from device_sim.publisher import DEFAULT_MAX_INFLIGHT, DevicePublisher
from device_sim.replay import scenario_start
from device_sim.run_summary import SimSummary, Tally
from device_sim.scenarios import ScenarioSpec
from device_sim.simulation import Simulation, build
from device_sim.ward import DEFAULT_WARD, WardOptions

log = logging.getLogger("carewatch.sim")

LAG_WARNING_S: Final = 5.0
CLOSE_TIMEOUT_S: Final = 10.0
MAX_BATCH: Final = 5000  # deliveries published together when they are all due


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
    ward: WardOptions = DEFAULT_WARD,
    faults: Faults = NO_FAULTS,
    scenario: ScenarioSpec | None = None,
    labels_path: Path | None = None,
    control: ControlServer | None = None,
) -> SimSummary:
    """Publish until the run's end (`duration_s`, or the scenario's) or until `stop` is set.

    The messages are the simulation's (`simulation.build`: the live ward at `rate_hz`, or
    `scenario`), handed to each device's connection when simulated time reaches them:
    simulated time is `start + speed * real time elapsed` (`speed` = inf: as fast as the
    broker acknowledges). Without `start`, the run starts now, or, when speed > 1 and the
    end is known, early enough to end now, so that no timestamp lies in the future (ingest
    rejects those); a scenario keeps its local times of day. Same seed, same messages.
    With `labels_path`, the ground-truth labels are written there (JSON Lines) at the end.
    With `control`, demo events it has accepted are played as the run goes.

    `connect` makes a connected publisher for a device (default: a DevicePublisher to
    host:port with the device's own credentials). Raises SimulatorError subclasses when a
    device cannot connect or the broker stops acknowledging.
    """
    _check_speed(speed)
    sim = _build(devices, rate_hz, duration_s, seed, speed, start, tz, ward, faults, scenario)
    if connect is None:
        connect = _broker_connect(host, port, tls=tls, ca_file=ca_file, max_inflight=max_inflight)
    log.info(
        "simulating %d devices (%s) at speed %g, from %s",
        len(sim.devices),
        f"scenario {scenario.name}" if scenario is not None else f"live ward at {rate_hz:g} Hz",
        speed,
        sim.start.astimezone(tz).isoformat(timespec="seconds"),
    )
    publishers = connect_all([sim.devices[d] for d in sorted(sim.devices)], connect)
    tally = Tally()
    began = time.monotonic()
    failed = False
    try:
        with reporter(progress, sim.duration_s, len(devices), sim.start, tz) as report:
            _loop(sim, publishers, speed, stop, report, tally, control)
    except BaseException:
        failed = True
        raise
    finally:
        # After a failure the broker may be gone: do not wait the full timeout for acks.
        unacked = close_all(publishers, timeout_s=2.0 if failed else CLOSE_TIMEOUT_S)
        labels = _write_labels(sim, labels_path)
    elapsed = time.monotonic() - began
    summary = _summary(sim, tally, elapsed, labels, publishers.values(), unacked)
    log.info(
        "published %d messages in %.1f s (%.0f/s); rejected %d, unacknowledged %d",
        summary.messages_published,
        elapsed,
        summary.messages_published / elapsed if elapsed > 0 else 0.0,
        summary.messages_rejected,
        summary.messages_unacked,
    )
    return summary


def _broker_connect(
    host: str, port: int, *, tls: bool, ca_file: str | None, max_inflight: int
) -> PublisherFactory:
    """Connects a DevicePublisher to host:port with the device's own credentials."""

    def connect(device: SimDevice) -> Publisher:
        publisher = DevicePublisher(
            device, host=host, port=port, tls=tls, ca_file=ca_file, max_inflight=max_inflight
        )
        publisher.connect()
        return publisher

    return connect


def write_simulation(
    devices: list[SimDevice],
    out: Path,
    *,
    duration_s: float | None,
    seed: int,
    start: datetime,
    rate_hz: float = 1.0,
    stop: threading.Event | None = None,
    progress: bool = False,
    tz: tzinfo = DEFAULT_TZ,
    ward: WardOptions = DEFAULT_WARD,
    faults: Faults = NO_FAULTS,
    scenario: ScenarioSpec | None = None,
    labels_path: Path | None = None,
) -> SimSummary:
    """A dry run: the messages the same run would publish, in order, as JSON Lines in `out`
    (no broker, no pacing). With the same arguments the file is the same, byte for byte.
    Each line: `at` (when it is sent, simulated), `device`, `topic`, `retain`, `kind`,
    `detail`, and `payload` (text) or `payload_base64` (bytes that are not UTF-8)."""
    if duration_s is None and scenario is None:
        raise ValueError("a dry run needs a duration")
    sim = _build(devices, rate_hz, duration_s, seed, math.inf, start, tz, ward, faults, scenario)
    stop = stop or threading.Event()
    tally = Tally()
    began = time.monotonic()
    try:
        with (
            reporter(progress, sim.duration_s, len(devices), sim.start, tz) as report,
            Path(out).open("w", encoding="utf-8") as sink,
        ):
            current = -1.0
            for delivery in sim.deliveries():
                if delivery.offset_s != current:
                    current = delivery.offset_s
                    if stop.is_set():
                        break
                    report(current, sim.start + timedelta(seconds=current), tally.total)
                sink.write(delivery_line(delivery, sim.start, tz) + "\n")
                tally.add(delivery.message, delivery.kind, delivery.detail)
    finally:
        labels = _write_labels(sim, labels_path)
    return _summary(sim, tally, time.monotonic() - began, labels, (), 0)


def delivery_line(delivery: Delivery, start: datetime, tz: tzinfo = DEFAULT_TZ) -> str:
    """One delivery as a JSON object (a line of a dry run's file)."""
    message = delivery.message
    record: dict[str, object] = {
        "at": jsonable(start + timedelta(seconds=delivery.offset_s), tz),
        "device": delivery.device_id,
        "topic": message.topic,
        "retain": message.retain,
        "kind": delivery.kind,
        "detail": delivery.detail,
    }
    try:
        record["payload"] = message.payload.decode("utf-8")
    except UnicodeDecodeError:
        record["payload_base64"] = base64.b64encode(message.payload).decode("ascii")
    return json.dumps(record, separators=(",", ":"))


def _check_speed(speed: float) -> None:
    if not speed > 0:  # NaN fails too
        raise ValueError(f"speed must be positive, got {speed}")


def _build(
    devices: list[SimDevice],
    rate_hz: float,
    duration_s: float | None,
    seed: int,
    speed: float,
    start: datetime | None,
    tz: tzinfo,
    ward: WardOptions,
    faults: Faults,
    scenario: ScenarioSpec | None,
) -> Simulation:
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz must be positive, got {rate_hz}")
    if duration_s is not None and not (math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s must be None or >= 0, got {duration_s}")
    if start is not None and start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if start is None:
        now = datetime.now(UTC)
        if scenario is not None:
            start = scenario_start(scenario, now, speed)
        else:
            start = _default_start(now, duration_s, speed)
    return build(
        devices,
        seed=seed,
        start=start,
        duration_s=duration_s,
        rate_hz=rate_hz,
        tz=tz,
        ward=ward,
        faults=faults,
        scenario=scenario,
    )


def _write_labels(sim: Simulation, path: Path | None) -> int:
    if path is None:
        return len(sim.labels)
    header = {**sim.header, "reached": sim.start + timedelta(seconds=sim.reached_s)}
    return write_labels(path, header, sim.labels.records, sim.labels.tz)


def _summary(
    sim: Simulation,
    tally: Tally,
    elapsed: float,
    labels: int,
    publishers: Iterable[Publisher],
    unacked: int,
) -> SimSummary:
    return SimSummary(
        messages_published=tally.total,
        by_stream=dict(tally.by_stream),
        elapsed_s=elapsed,
        messages_rejected=sum(p.rejected for p in publishers),
        messages_unacked=unacked,
        by_kind=dict(tally.by_kind),
        malformed=dict(tally.malformed),
        lost=sim.lost,
        unsent=sim.unsent,
        labels=labels,
        simulated_s=sim.reached_s,
    )


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


def _loop(
    sim: Simulation,
    publishers: dict[str, Publisher],
    speed: float,
    stop: threading.Event,
    report: Report,
    tally: Tally,
    control: ControlServer | None = None,
) -> None:
    began = time.monotonic()
    paced = math.isfinite(speed)
    last_lag_warning = -math.inf
    due: list[Delivery] = []
    current = -1.0
    for delivery in sim.deliveries():
        if delivery.offset_s != current:
            current = delivery.offset_s
            if control is not None:
                control.drain(sim.inject)
            # Due at its offset from the start, never by adding up intervals, so neither
            # float error nor a late wake-up accumulates into drift.
            delay = began + current / speed - time.monotonic() if paced else 0.0
            if due and (delay > 0 or len(due) >= MAX_BATCH):
                _publish_due(sim, publishers, due, tally)
                report(
                    due[-1].offset_s, sim.start + timedelta(seconds=due[-1].offset_s), tally.total
                )
                due.clear()
                if stop.is_set():
                    return
                if paced:
                    delay = began + current / speed - time.monotonic()
            if delay > 0:
                if stop.wait(delay):
                    return
            elif -delay > LAG_WARNING_S and time.monotonic() - last_lag_warning > 30.0:
                last_lag_warning = time.monotonic()
                log.warning(
                    "%.1f s behind schedule: the broker or this machine cannot keep up "
                    "with %d devices at speed %g",
                    -delay,
                    len(publishers),
                    speed,
                )
        due.append(delivery)
    if due and not stop.is_set():
        _publish_due(sim, publishers, due, tally)
        report(due[-1].offset_s, sim.start + timedelta(seconds=due[-1].offset_s), tally.total)


def _publish_due(
    sim: Simulation, publishers: dict[str, Publisher], due: list[Delivery], tally: Tally
) -> None:
    """Everything that is due, device by device, each device's in its own order: a device's
    connection then wakes once for several messages instead of once for each (between
    devices, on separate connections, MQTT promises no order anyway)."""
    by_device: dict[str, list[Delivery]] = {}
    for delivery in due:
        by_device.setdefault(delivery.device_id, []).append(delivery)
    for device_id, deliveries in by_device.items():
        publisher = publishers[device_id]
        for delivery in deliveries:
            # After a reconnection the broker has published the will (online: false): say
            # we are back without waiting for the next regular status.
            if publisher.take_reconnected():
                t = sim.start + timedelta(seconds=delivery.offset_s)
                status = sim.status_now(device_id, t)
                if status is not None:
                    publisher.publish(status)
                    tally.add(status)
            publisher.publish(delivery.message)
            tally.add(delivery.message, delivery.kind, delivery.detail)
