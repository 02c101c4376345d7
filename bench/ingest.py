"""Ingest benchmark: ≥ 1,000,000 readings from simulated devices through the real broker.

Measures, on this machine:
- throughput: readings/s stored while the worker drains a backlog queued at the broker for
  its persistent session (published while it was stopped);
- latency: p50/p99 publish→commit at a paced 20,000 readings/s with the publisher live
  (from the worker's histogram: bucket-interpolated, like Prometheus' histogram_quantile);
- the worker's peak RSS;
- the ceiling: the same write path (BatchWriter, same batch size, same hypertable and unique
  key, same resident attribution) fed directly with pre-built batches, no MQTT, no decoding.

Run: `.venv/bin/python -m bench.ingest` (after scripts/setup). Writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.common import (
    Worker,
    histogram_buckets,
    machine,
    quantile,
    wait_until,
    write_results,
)
from device_sim.devices import SimDevice
from device_sim.messages import Message
from device_sim.publisher import DevicePublisher
from ingest.readings import DeviceMessage, Header
from ingest.writer import Batch, BatchWriter
from rules.types import Vital
from rules.vocabulary import VITAL_SIGNS
from services.devices import repo
from services.devices.provisioning import assign_device, provision_device
from services.operations.broker.dynsec import DynsecAccounts
from services.operations.local.env import scratch_settings
from services.operations.local.stack import LocalStack
from services.settings import Settings, database_url, mqtt_admin_endpoint

SITE = "bench"
READINGS_PER_MESSAGE = 6  # hr, spo2, rr, temp, sbp, dbp
TARGETS = {"readings_per_s": 40_000, "ratio": 0.5, "p99_ms": 1000, "worker_peak_rss_mb": 300}
console = Console()


def vitals(seq: int, ts_ms: int) -> bytes:
    return json.dumps(
        {
            "ts": ts_ms,
            "seq": seq,
            "hr": 60 + seq % 40,
            "spo2": 94 + seq % 6,
            "rr": 12 + seq % 8,
            "temp": 36.5,
            "sbp": 120 + seq % 20,
            "dbp": 75 + seq % 10,
        }
    ).encode()


def topic(device: SimDevice) -> str:
    return f"carewatch/v1/{device.site_id}/{device.device_id}/vitals"


# --- publishers (child processes: the GIL would otherwise be shared with the bench) -------


def publish_backlog(
    devices: list[SimDevice], port: int, per_device: int, base_ms: int, done: Synchronized[int]
) -> None:
    publishers = [DevicePublisher(d, host="127.0.0.1", port=port) for d in devices]
    for p in publishers:
        p.connect()
    for seq in range(per_device):
        for device, publisher in zip(devices, publishers, strict=True):
            publisher.publish(Message("vitals", topic(device), vitals(seq, base_ms + seq * 10)))
        if seq % 200 == 0:
            with done.get_lock():
                done.value += 200 * len(devices)
    for p in publishers:
        p.close(timeout_s=120, announce_offline=False)


def publish_paced(
    devices: list[SimDevice],
    port: int,
    messages_per_s: float,
    seconds: float,
    sent: Synchronized[int],
) -> None:
    """Publish at a steady rate, ts = the moment of publishing (the device's clock)."""
    publishers = [DevicePublisher(d, host="127.0.0.1", port=port) for d in devices]
    for p in publishers:
        p.connect()
    last_ts = [0] * len(devices)
    count = 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * messages_per_s)
        while count < due:
            i = count % len(devices)
            ts = max(int(time.time() * 1000), last_ts[i] + 1)  # unique per device: no dedupe
            last_ts[i] = ts
            publishers[i].publish(Message("vitals", topic(devices[i]), vitals(count, ts)))
            count += 1
        sent.value = count
        time.sleep(0.002)
    for p in publishers:
        p.close(timeout_s=60, announce_offline=False)


def run_processes(
    target: Any,
    groups: list[list[SimDevice]],
    args: tuple[Any, ...],
    total: int,
    label: str,
    counter: Synchronized[int],
) -> float:
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=target, args=(group, *args, counter)) for group in groups]
    started = time.monotonic()
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task(label, total=total)
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            progress.update(task, completed=min(counter.value, total))
            time.sleep(0.2)
        progress.update(task, completed=total)
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"a publisher process failed (exit {p.exitcode})")
    return time.monotonic() - started


# --- set-up ---------------------------------------------------------------------------------


async def provision(settings: Settings, n: int) -> list[SimDevice]:
    broker = DynsecAccounts(mqtt_admin_endpoint(settings))
    devices = []
    async with await psycopg.AsyncConnection.connect(database_url(settings), autocommit=True) as c:
        await repo.ensure_site(c, site_id=SITE, name="Benchmark site")
        await repo.ensure_unit(c, site_id=SITE, unit_id="u", name="Unit")
        for i in range(n):
            resident = await repo.create_resident(
                c, site_id=SITE, unit_id="u", display_name=f"Bench {i}"
            )
            issued = await provision_device(
                c, broker, device_id=f"bench-{i:03d}", site_id=SITE, kind="wearable"
            )
            await assign_device(
                c,
                device_id=issued.device_id,
                resident_id=resident,
                at=datetime(2000, 1, 1, tzinfo=UTC),
            )
            devices.append(SimDevice(issued.device_id, SITE, "wearable", issued.password, str(i)))
    return devices


def split(devices: list[SimDevice], parts: int) -> list[list[SimDevice]]:
    return [devices[i::parts] for i in range(parts)]


# --- phases ---------------------------------------------------------------------------------


def measure_backlog(
    settings: Settings, worker: Worker, devices: list[SimDevice], readings: int
) -> dict[str, float]:
    per_device = -(-readings // (READINGS_PER_MESSAGE * len(devices)))
    messages = per_device * len(devices)
    base_ms = int((time.time() - 86_400) * 1000)
    console.print(
        f"[bold]backlog[/]: {messages:,} messages ({messages * 6:,} readings) "
        "published while the worker is stopped"
    )
    worker.start()  # creates its persistent session and subscription
    worker.stop()
    publish_s = run_processes(
        publish_backlog,
        split(devices, 2),
        (settings.mqtt_port, per_device, base_ms),
        messages,
        "publishing",
        mp.get_context("fork").Value("q", 0),
    )
    target = messages * READINGS_PER_MESSAGE
    worker.start()

    def stored() -> float:
        return worker.sample("carewatch_ingest_rows_stored_total", table="readings")

    wait_until(lambda: stored() > 0, timeout=60, what="the first stored batch")
    t0, s0 = time.monotonic(), stored()
    with Progress(
        TextColumn("draining"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("drain", total=target)
        while (now_stored := stored()) < target:
            progress.update(task, completed=now_stored)
            if time.monotonic() - t0 > 600:
                raise TimeoutError(f"drain stalled at {now_stored:,} of {target:,}")
            time.sleep(0.1)
        progress.update(task, completed=target)
    t1 = time.monotonic()
    return {
        "messages": messages,
        "readings": target,
        "publish_s": round(publish_s, 2),
        "drain_s": round(t1 - t0, 2),
        "readings_per_s": round((target - s0) / (t1 - t0)),
    }


def measure_latency(
    settings: Settings,
    worker: Worker,
    devices: list[SimDevice],
    readings_per_s: int,
    seconds: float,
) -> dict[str, float]:
    console.print(
        f"[bold]latency[/]: {readings_per_s:,} readings/s for {seconds:.0f} s, publisher live"
    )
    name = "carewatch_ingest_publish_to_commit_seconds"
    before = histogram_buckets(worker.samples(), name)
    messages_per_s = readings_per_s / READINGS_PER_MESSAGE
    sent = mp.get_context("fork").Value("q", 0)
    elapsed = run_processes(
        publish_paced,
        [devices],
        (settings.mqtt_port, messages_per_s, seconds),
        int(messages_per_s * seconds),
        "paced",
        sent,
    )
    expected = sent.value
    count_name = f"{name}_count"
    wait_until(
        lambda: (
            worker.samples().get((count_name, ()), 0.0) - dict(before).get(float("inf"), 0.0)
            >= expected
        ),
        timeout=60,
        what="every paced message committed",
    )
    after = histogram_buckets(worker.samples(), name)
    delta = [(bound, a - b) for (bound, a), (_, b) in zip(after, before, strict=True)]
    return {
        "paced_readings_per_s": round(expected * READINGS_PER_MESSAGE / elapsed),
        "p50_ms": round(quantile(delta, 0.50) * 1000, 1),
        "p99_ms": round(quantile(delta, 0.99) * 1000, 1),
    }


def measure_ceiling(
    settings: Settings, devices: list[SimDevice], readings: int, batch_size: int
) -> dict[str, float]:
    """The write path alone: pre-built batches of the worker's size into the same tables."""
    base = datetime.now(UTC) - timedelta(days=3)  # a range no other phase used: all new rows
    received = datetime.now(UTC)
    batches: list[Batch] = []
    total_messages = -(-readings // READINGS_PER_MESSAGE)
    batch = Batch()
    for i in range(total_messages):
        device = devices[i % len(devices)]
        ts = base + timedelta(milliseconds=10 * (i // len(devices)))
        header = Header(SITE, device.device_id, "vitals", ts, i)
        values = tuple(Vital(ts, m, 70.0, "vitals", device.device_id) for m in VITAL_SIGNS)
        batch.add(DeviceMessage(header, values), received)
        if (i + 1) % batch_size == 0:
            batches.append(batch)
            batch = Batch()
    if batch.row_count:
        batches.append(batch)
    console.print(
        f"[bold]ceiling[/]: {len(batches)} batches of {batch_size:,} messages "
        "straight into BatchWriter"
    )
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        writer = BatchWriter(conn)
        started = time.perf_counter()
        stored = sum(writer.write(b).stored["readings"] for b in batches)
        elapsed = time.perf_counter() - started
    if stored != total_messages * READINGS_PER_MESSAGE:
        raise RuntimeError(f"ceiling stored {stored:,}, expected {total_messages * 6:,}")
    return {"ceiling_readings_per_s": round(stored / elapsed), "ceiling_s": round(elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--paced-rate", type=int, default=20_000, help="readings/s")
    parser.add_argument("--paced-seconds", type=float, default=30.0)
    args = parser.parse_args()

    settings = scratch_settings("carewatch-bench-")
    stack = LocalStack(settings)
    stack.start()
    worker = Worker(settings)
    try:
        devices = asyncio.run(provision(settings, args.devices))
        backlog = measure_backlog(settings, worker, devices, args.readings)
        latency = measure_latency(settings, worker, devices, args.paced_rate, args.paced_seconds)
        rss = worker.peak_rss_mb()
        worker.stop()
        ceiling = measure_ceiling(settings, devices, args.readings, settings.ingest_batch_size)
    finally:
        worker.stop()
        stack.stop()
    results = {
        "readings_per_s": backlog["readings_per_s"],
        "ceiling_readings_per_s": ceiling["ceiling_readings_per_s"],
        "ratio": round(backlog["readings_per_s"] / ceiling["ceiling_readings_per_s"], 3),
        "p50_ms": latency["p50_ms"],
        "p99_ms": latency["p99_ms"],
        "worker_peak_rss_mb": round(rss, 1),
        "backlog": backlog,
        "latency": {**latency, "method": "worker histogram, bucket-interpolated"},
        "ceiling": ceiling,
        "batch_size_messages": settings.ingest_batch_size,
        "flush_ms": settings.ingest_flush_ms,
        "targets": TARGETS,
        "machine": machine(),
    }
    path = write_results("ingest", results)
    table = Table(title="ingest benchmark")
    for column in ("figure", "measured", "target"):
        table.add_column(column)
    table.add_row("readings/s stored (backlog)", f"{results['readings_per_s']:,}", "≥ 40,000")
    table.add_row("ceiling readings/s (write path)", f"{results['ceiling_readings_per_s']:,}", "")
    table.add_row("ratio", f"{results['ratio']:.2f}", "≥ 0.50")
    table.add_row("p50 publish→commit", f"{results['p50_ms']} ms", "")
    table.add_row("p99 publish→commit", f"{results['p99_ms']} ms", "< 1000 ms")
    table.add_row("worker peak RSS", f"{results['worker_peak_rss_mb']} MB", "< 300 MB")
    console.print(table)
    console.print(f"results: {path}")


if __name__ == "__main__":
    main()
