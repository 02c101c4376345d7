"""The alert benchmark's devices: which resident gets a fall or a hypoxia episode and when, and
the publisher processes that stream every wearable at 1 Hz with those events riding on its
slots (child processes: 1,000 paho clients need more than one interpreter's GIL)."""

from __future__ import annotations

import multiprocessing as mp
import random
import time
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier, Event
from typing import Literal

import numpy as np

from device_sim.devices import SimDevice
from device_sim.messages import event_message, vitals_message
from device_sim.physiology import Vitals
from device_sim.publisher import DevicePublisher

LOW_SPO2 = 87  # below the 90 % limit, above the 85 % critical tier: one "high" page
HYPOXIA_READINGS = 22  # 21 s of low readings at 1 Hz: the 15 s persistence and a margin

Kind = Literal["fall", "hypoxia"]


def resident_name(index: int) -> str:
    return f"Bench {index + 1:04d}"


# --- the plan: which resident gets what, when ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Injection:
    kind: Kind
    second: int  # the streaming second it starts in


def make_plan(
    residents: int, falls: int, hypoxia: int, *, warmup_s: int, window_s: int, seed: int
) -> dict[int, Injection]:
    """Distinct residents, falls and episodes interleaved evenly over the window."""
    chosen = random.Random(seed).sample(range(residents), falls + hypoxia)
    plan = {}
    for j, index in enumerate(chosen[:falls]):
        plan[index] = Injection("fall", warmup_s + j * window_s // falls)
    for j, index in enumerate(chosen[falls:]):
        plan[index] = Injection("hypoxia", warmup_s + (2 * j + 1) * window_s // (2 * hypoxia))
    return plan


# --- publishers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Published:
    kind: Literal["fall", "low"]
    index: int
    ts_ms: int  # the message's `ts`
    at: float  # time.time() just before publish()


@dataclass
class StreamReport:
    records: list[Published] = field(default_factory=list)
    messages: int = 0
    first_at: float = 0.0
    last_at: float = 0.0
    lag_p99_s: float = 0.0
    lag_max_s: float = 0.0
    unacked: int = 0
    rejected: int = 0
    error: str | None = None


def normal_vitals(index: int, second: int, spo2: int | None = None) -> Vitals:
    """Calm, slightly varying values: no rule fires on them (NEWS2 0 on every parameter)."""
    v = index + second
    return Vitals(
        hr=68 + v % 9,
        spo2=spo2 if spo2 is not None else 96 + v % 3,
        rr=14 + v % 5,
        temp=36.6,
        sbp=118 + v % 12,
        dbp=74 + v % 6,
        on_o2=False,
    )


def stream(
    group: list[tuple[int, SimDevice]],
    plan: dict[int, Injection],
    port: int,
    seconds: int,
    devices_total: int,
    barrier: Barrier,
    go: Event,
    start_at: Synchronized[float],
    sent: Synchronized[int],
    out: mp.Queue[StreamReport],
) -> None:
    """Each device publishes once a second at its own phase (index / devices), so the load
    is smooth; injected events ride on the device's slot."""
    report = StreamReport()
    publishers: list[DevicePublisher] = []
    try:
        for _, device in group:
            publisher = DevicePublisher(device, host="127.0.0.1", port=port)
            publisher.connect()
            publishers.append(publisher)
        barrier.wait(timeout=120)
        go.wait(timeout=60)
        start = start_at.value
        lags: list[float] = []
        seq = [0] * len(group)
        last_ts = [0] * len(group)

        def stamp(j: int) -> tuple[float, int, int]:
            at = time.time()
            ts = max(int(at * 1000), last_ts[j] + 1)  # unique per device: never a duplicate
            last_ts[j] = ts
            seq[j] += 1
            return at, ts, seq[j]

        for k in range(seconds):
            for j, (index, device) in enumerate(group):
                due = start + k + index / devices_total
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                injection = plan.get(index)
                low = (
                    injection is not None
                    and injection.kind == "hypoxia"
                    and injection.second <= k < injection.second + HYPOXIA_READINGS
                )
                at, ts, n = stamp(j)
                lags.append(max(0.0, at - due))
                values = normal_vitals(index, k, LOW_SPO2 if low else None)
                publishers[j].publish(vitals_message(device, values, seq=n, ts_ms=ts))
                report.messages += 1
                report.first_at = report.first_at or at
                report.last_at = at
                if low:
                    report.records.append(Published("low", index, ts, at))
                if injection is not None and injection.kind == "fall" and injection.second == k:
                    at, ts, n = stamp(j)
                    publishers[j].publish(
                        event_message(device, "fall", seq=n, ts_ms=ts, confidence=0.95)
                    )
                    report.records.append(Published("fall", index, ts, at))
            with sent.get_lock():
                sent.value += len(group)
        report.lag_p99_s = float(np.percentile(lags, 99)) if lags else 0.0
        report.lag_max_s = max(lags, default=0.0)
    except BaseException as exc:
        barrier.abort()  # the others (and the bench) must not wait for this one
        report.error = f"{type(exc).__name__}: {exc}"
    finally:
        for publisher in publishers:
            report.unacked += publisher.close(timeout_s=30, announce_offline=False)
            report.rejected += publisher.rejected
        out.put(report)
