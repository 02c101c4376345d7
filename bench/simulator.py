"""Simulator benchmark: messages/s that `carewatch sim`'s machinery publishes from one process
to the local broker, every message acknowledged at QoS 1 (target: at least 5,000/s).

Starts a scratch stack (PostgreSQL + TimescaleDB and Mosquitto, as `carewatch up` does),
provisions a demo ward, then runs `device_sim.run.run_simulation` (what `carewatch sim` calls)
in this process, unpaced (speed inf), each device on its own connection with the in-flight cap
at its default:

- `ward`: the live ward as `carewatch sim` runs it by default (vitals and bed readings at
  1 Hz, status every minute, meals, the morning wash, everyday activities with their motion
  windows); this is the headline figure;
- `faults`: the same with every device behaviour on (Wi-Fi drops with backfill, clock drift,
  1 % duplicates, 1 % out of order, 1 % malformed copies);
- `generation`: the same simulation as `ward` with no broker at all (how fast the pure
  generator runs on its own, to see which side limits).

The rate is messages acknowledged by the broker divided by the time from the first publish to
the last PUBACK. Run: `.venv/bin/python -m bench.simulator`. Writes
bench/results/simulator.json.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import machine, write_results
from device_sim.cli.demo_ward import ensure_demo_ward
from device_sim.devices import SimDevice
from device_sim.faults import Faults
from device_sim.physiology import DEFAULT_TZ
from device_sim.run import run_simulation
from device_sim.simulation import build
from services.operations.local.env import scratch_settings
from services.operations.local.stack import LocalStack
from services.settings import Settings

TARGET_MESSAGES_PER_S = 5_000
# A busy half hour: morning washes (wearables off and on), activities with motion windows.
START = datetime(2025, 3, 3, 9, 0, tzinfo=DEFAULT_TZ)
ALL_FAULTS = Faults(
    wifi_drops_per_day=24.0,
    clock_drift_ppm=50.0,
    duplicate_rate=0.01,
    reorder_rate=0.01,
    malformed_rate=0.01,
)
console = Console()


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def publish(
    settings: Settings, devices: list[SimDevice], duration_s: float, faults: Faults
) -> dict[str, Any]:
    cpu0 = cpu_s()
    summary = run_simulation(
        devices,
        host="127.0.0.1",
        port=settings.mqtt_port,
        rate_hz=1.0,
        duration_s=duration_s,
        seed=1,
        stop=threading.Event(),
        speed=math.inf,
        start=START,
        progress=False,
        faults=faults,
    )
    acked = summary.messages_published - summary.messages_rejected - summary.messages_unacked
    if summary.messages_unacked or summary.messages_rejected:
        raise RuntimeError(
            f"{summary.messages_unacked} unacknowledged, {summary.messages_rejected} rejected"
        )
    return {
        "messages_per_s": round(acked / summary.elapsed_s),
        "messages": summary.messages_published,
        "acknowledged": acked,
        "elapsed_s": round(summary.elapsed_s, 2),
        "cpu_s": round(cpu_s() - cpu0, 2),
        "simulated_s": duration_s,
        "speed_x_real_time": round(duration_s / summary.elapsed_s, 1),
        "by_stream": summary.by_stream,
        "by_kind": summary.by_kind,
    }


def generate_only(devices: list[SimDevice], duration_s: float) -> dict[str, Any]:
    sim = build(devices, seed=1, start=START, duration_s=duration_s, rate_hz=1.0)
    began = time.perf_counter()
    count = sum(1 for _ in sim.deliveries())
    elapsed = time.perf_counter() - began
    return {
        "messages_per_s": round(count / elapsed),
        "messages": count,
        "elapsed_s": round(elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=50, help="each: wearable + bed sensor")
    parser.add_argument("--duration", type=float, default=1800.0, help="simulated seconds")
    args = parser.parse_args()

    load_before = os.getloadavg()
    settings = scratch_settings("carewatch-bench-sim-")
    stack = LocalStack(settings)
    stack.start()
    try:
        devices = asyncio.run(ensure_demo_ward(settings, args.residents, family_bed=False))
        console.print(
            f"[bold]{len(devices)} devices[/], {args.duration:.0f} simulated seconds from "
            f"{START.isoformat()}, unpaced"
        )
        generation = generate_only(devices, args.duration)
        console.print(f"generation alone: {generation['messages_per_s']:,} messages/s")
        ward = publish(settings, devices, args.duration, Faults())
        console.print(f"ward: {ward['messages_per_s']:,} messages/s acknowledged")
        faults = publish(settings, devices, args.duration, ALL_FAULTS)
        console.print(f"faults: {faults['messages_per_s']:,} messages/s acknowledged")
    finally:
        stack.stop()
    results = {
        "messages_per_s": ward["messages_per_s"],
        "target_messages_per_s": TARGET_MESSAGES_PER_S,
        "processes": 1,
        "qos": 1,
        "devices": len(devices),
        "residents": args.residents,
        "rate_hz": 1.0,
        "max_inflight_per_device": 1000,
        "start": START.isoformat(),
        "end": (START + timedelta(seconds=args.duration)).isoformat(),
        "ward": ward,
        "faults": {**faults, "config": {k: getattr(ALL_FAULTS, k) for k in _FAULT_FIELDS}},
        "generation": generation,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "machine": machine(),
    }
    path = write_results("simulator", results)
    table = Table(title="simulator benchmark (one process, QoS 1, all acknowledged)")
    for column in ("phase", "messages", "messages/s", "cpu s", "x real time"):
        table.add_column(column)
    for name, phase in (("ward", ward), ("faults", faults)):
        table.add_row(
            name,
            f"{phase['messages']:,}",
            f"{phase['messages_per_s']:,}",
            f"{phase['cpu_s']}",
            f"{phase['speed_x_real_time']}",
        )
    table.add_row(
        "generation only",
        f"{generation['messages']:,}",
        f"{generation['messages_per_s']:,}",
        "",
        "",
    )
    console.print(table)
    console.print(f"target ≥ {TARGET_MESSAGES_PER_S:,} messages/s; results: {path}")


_FAULT_FIELDS = (
    "wifi_drops_per_day",
    "clock_drift_ppm",
    "duplicate_rate",
    "reorder_rate",
    "malformed_rate",
)


if __name__ == "__main__":
    main()
