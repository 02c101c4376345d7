"""Load test (issue 7): ramp simulated residents against the full local stack and find the
largest ward this machine handles with alert p99 under 1 s and nothing lost.

Each resident is a wearable (vitals at 1 Hz) and a bed sensor (bed at 1 Hz), each on its own
MQTT connection with its own credentials, each also sending its retained status every 60 s.
Steps are cumulative (default 500, 1,000, 2,000, 5,000 residents): each step connects only
its new devices, the earlier ones keep streaming. Per step, after a warm-up, falls are
injected on distinct residents over the measuring window, and the bench records:

- readings/s stored (the ingest worker's counter over the window) and messages/s published;
- detector lag p99 (a message's ts → commit of the detector batch that took it in) and
  ingest lag p99 (ts → commit), from the services' histograms over the window; the share of
  the window the detector's main loop was busy, and its snapshots' p99 (its pauses);
- alert p99: publish of the fall → its page at the caregiver's receiver (as
  bench/alert_latency.py measures it);
- lost readings: messages the broker acknowledged (PUBACK) whose `ts` lies in the window,
  minus those stored (SQL counts per stream after the ingest worker drained), exact;
  lost alerts: falls never paged within a bounded wait after the last step;
- CPU (cores) and peak memory (PSS) per process: ingest, detector, alerts, Mosquitto,
  PostgreSQL (all backends), the publishers, and what the rest of the machine used.

A step passes when alert p99 < 1 s, nothing is lost, the publishers kept the 1 Hz schedule
(≤ 1 % of publishes more than 0.5 s late), no service died and the machine was otherwise
quiet; `max_residents_ok` is the largest step passing with every smaller one passing too.

The residents are spread over `--sites` sites (default 2: `bench-1`, `bench-2`), taken in
turn, each with one detector partition (`carewatch detect --sites`, docs/scaling.md): a
county's homes rather than one 2,000-bed ward. One detector for every site gives first
(README, "Load test"); `--sites 1` runs one site and the single detector. With several
partitions the detector figures are the worst partition's.

Set-up: all devices of the ramp get broker accounts and database rows before the services
start (bench/bulk_devices.py explains why not `provision_device` per device: measured 0.16 s
per device for the product hash and 30-70 ms per account for the broker's config rewrite at
3,000-5,000 accounts). Publishers drive up to `--clients-per-process` connections from one
thread per process (bench/load_stream.py): one paho thread per client is what does not scale.

Run (on a quiet machine; 2 cores): `.venv/bin/python -m bench.load` — about 15 minutes for
the default ramp including set-up; `--quick` is a 1-2 minute smoke check (20, 50 residents).
Writes bench/results/load.json. Exits non-zero when a step's figures cannot be trusted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import queue
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from bench.alert_analysis import pct
from bench.bulk_devices import add_broker_accounts, add_rows, new_devices
from bench.caregiver import Acker, Pages
from bench.common import finish, histogram_buckets, machine
from bench.cpu import BACKGROUND, CpuSample, busiest_others, cpu_cores, cpu_sample
from bench.load_plan import (
    ALERT_P99_LIMIT_MS,
    STATUS_EVERY_S,
    STREAMS,
    LoadDevice,
    Step,
    StepVerdict,
    excess_messages,
    fall_offsets,
    in_window,
    lost_messages,
    max_residents_ok,
    parse_steps,
    phase,
    pick_fallers,
    publishers_for,
    site_names,
    step_problems,
    window_quantile,
)
from bench.load_stream import StreamCounts, publish_devices
from bench.memory import peaks, pss_mb
from bench.receiver import JsonReceiver
from bench.services import Samples, Service, pipeline, store_care_team
from device_sim.devices import SimDevice
from services.errors import CareWatchError
from services.operations.local.env import scratch_settings
from services.operations.local.stack import LocalStack
from services.settings import Settings, database_url

PUBLISHER = "publishers"
PAGE_WAIT_S = 60.0  # after the last fall: a page later than this counts as lost
DRAIN_WAIT_S = 180.0
FALL_TAIL_S = 5.0
# SQL: one row per stored message of each stream (a metric only that stream carries).
STORED = {
    "vitals": "SELECT count(*) FROM readings WHERE metric = 'spo2' AND ts >= %s AND ts < %s",
    "bed": "SELECT count(*) FROM readings WHERE metric = 'occupied' AND ts >= %s AND ts < %s",
    "status": "SELECT count(*) FROM device_status WHERE ts >= %s AND ts < %s",
    "event": "SELECT count(*) FROM device_events WHERE ts >= %s AND ts < %s",
}
# Per figure, the services (by name, or a partition of it: `detect-SITE`) and the histogram;
# with several partitions a step reports the worst of them.
HISTOGRAMS = {
    "detector_lag": ("detect", "carewatch_detector_lag_seconds"),
    "ingest_lag": ("ingest", "carewatch_ingest_publish_to_commit_seconds"),
    "detector_snapshot": ("detect", "carewatch_detector_snapshot_seconds"),
}
_DETECTOR_BUSY = ("carewatch_detector_busy_seconds_total", ())

console = Console(width=max(120, Console().width))


@dataclass
class StepWindow:
    """What was recorded live during one step's measuring window."""

    step: Step
    connect_s: float
    start: int  # epoch second, inclusive
    end: int  # exclusive
    fallers: list[int]
    cpu: dict[str, float]
    background: str  # the busiest processes outside the benchmark (bench/cpu.py)
    memory_mb: dict[str, float]
    rows_stored: float
    detector_busy_s: float  # the busiest detector's main loop, over the window
    histograms: dict[str, list[tuple[Samples, Samples]]]  # per figure, per service
    dead: list[str] = field(default_factory=list)


# --- set-up ------------------------------------------------------------------------------------


def raise_fd_limit() -> None:
    """10,000 device connections: the broker (a child, inheriting it) and the publishers
    need more than the usual 1,024 descriptors."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def provision(
    stack: LocalStack, residents: int, sites: list[str]
) -> tuple[list[tuple[SimDevice, SimDevice]], float]:
    began = time.monotonic()
    pairs = new_devices(residents, sites)
    assert stack.mosquitto is not None
    stack.mosquitto.stop()  # the plugin reads its file only at start
    add_broker_accounts(stack.mosquitto, [d for pair in pairs for d in pair])
    stack.mosquitto.start()
    add_rows(stack.settings, pairs)
    return pairs, time.monotonic() - began


def load_devices(pairs: list[tuple[SimDevice, SimDevice]], step: Step) -> list[LoadDevice]:
    return [
        LoadDevice(i, device, phase(2 * i + k))
        for i in step.new
        for k, device in enumerate(pairs[i])
    ]


# --- the ramp ----------------------------------------------------------------------------------


class Ramp:
    """The publisher processes of every step so far, and the shared state they read."""

    def __init__(self, settings: Settings, residents: int, per_process: int) -> None:
        self.ctx = mp.get_context("fork")
        self.port = settings.mqtt_port
        self.per_process = per_process
        self.connected: Synchronized[int] = self.ctx.Value("q", 0)
        self.sent: Synchronized[int] = self.ctx.Value("q", 0)
        self.fall_due = self.ctx.Array("d", residents, lock=False)
        self.fall_published = self.ctx.Array("d", residents, lock=False)
        self.stop_event = self.ctx.Event()
        self.out: mp.Queue[StreamCounts] = self.ctx.Queue()
        self.procs: list[Any] = []

    def add(self, devices: list[LoadDevice], timeout: float = 180.0) -> float:
        """Start publishers for the step's new devices; return once all are connected."""
        began = time.monotonic()
        target = self.connected.value + len(devices)
        parts = publishers_for(len(devices), self.per_process)
        for p in range(parts):
            proc = self.ctx.Process(
                target=publish_devices,
                args=(
                    devices[p::parts],
                    self.port,
                    self.connected,
                    self.sent,
                    self.fall_due,
                    self.fall_published,
                    self.stop_event,
                    self.out,
                ),
                daemon=True,
            )
            proc.start()
            self.procs.append(proc)
        while self.connected.value < target:
            self.check()
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"{target - self.connected.value} devices did not connect")
            time.sleep(0.2)
        return time.monotonic() - began

    def check(self) -> None:
        if any(p.exitcode is not None for p in self.procs):
            raise RuntimeError("a publisher process ended early (see its error in the log)")

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None]

    def finish(self) -> list[StreamCounts]:
        self.stop_event.set()
        reports = []
        for _ in self.procs:
            try:
                reports.append(self.out.get(timeout=90))
            except queue.Empty:
                raise RuntimeError("a publisher process did not report") from None
        for p in self.procs:
            p.join(timeout=10)
        return reports


def roles_of(stack: LocalStack, services: list[Service], ramp: Ramp) -> dict[int, str]:
    roles = {os.getpid(): "bench (receiver, acks)"}
    if stack.mosquitto is not None and stack.mosquitto.child is not None:
        roles[stack.mosquitto.child.pid] = "mosquitto"
    roles.update({s.child.pid: s.child.name for s in services})
    roles.update(dict.fromkeys(ramp.pids(), PUBLISHER))
    return roles


def postmaster_of(stack: LocalStack) -> int | None:
    if stack.postgres is not None and stack.postgres.child is not None:
        return stack.postgres.child.pid
    return None


def run_step(
    args: argparse.Namespace,
    step: Step,
    pairs: list[tuple[SimDevice, SimDevice]],
    ramp: Ramp,
    stack: LocalStack,
    services: dict[str, Service],
    used: set[int],
) -> StepWindow:
    devices = load_devices(pairs, step)
    console.print(
        f"[bold]step {step.number}[/]: {step.residents:,} residents "
        f"(+{len(step.new):,}: {len(devices):,} connections)"
    )
    connect_s = ramp.add(devices)
    fallers = pick_fallers(step, args.falls_per_step, used, args.seed)
    used.update(fallers)
    wait(args.warmup, f"warm-up {args.warmup} s", ramp, services)
    start = math.ceil(time.time())
    end = start + args.step_seconds
    for faller, offset in zip(
        fallers, fall_offsets(len(fallers), args.step_seconds, FALL_TAIL_S), strict=True
    ):
        ramp.fall_due[faller] = start + offset
    # Each service scraped once at each edge of the window: its figures from one instant.
    before = {name: s.samples() for name, s in services.items()}
    while time.time() < start:
        time.sleep(0.01)
    roles = roles_of(stack, list(services.values()), ramp)
    postmaster = postmaster_of(stack)
    cpu_before: CpuSample = cpu_sample()
    memory: dict[str, float] = {}
    while time.time() < end:
        memory = peaks(memory, pss_mb(roles, postmaster))
        wait(min(1.0, end - time.time()), None, ramp, services)
    cpu_after = cpu_sample()
    after = {name: s.samples() for name, s in services.items()}
    cpu = cpu_cores(cpu_before, cpu_after, roles, postmaster)
    others = busiest_others(cpu_before, cpu_after, roles, postmaster)
    return StepWindow(
        step=step,
        connect_s=round(connect_s, 1),
        start=start,
        end=end,
        fallers=fallers,
        cpu=cpu,
        background=others,
        memory_mb={role: round(mb, 1) for role, mb in memory.items()},
        rows_stored=_delta(before["ingest"], after["ingest"], _ROWS),
        detector_busy_s=max(
            _delta(before[n], after[n], _DETECTOR_BUSY) for n in serving(services, "detect")
        ),
        histograms={
            k: [(before[n], after[n]) for n in serving(services, svc)]
            for k, (svc, _) in HISTOGRAMS.items()
        },
    )


def serving(services: dict[str, Service], name: str) -> list[str]:
    """The service `name`, or each of its partitions (`name-SITE`)."""
    return [n for n in services if n == name or n.startswith(f"{name}-")]


def _delta(before: Samples, after: Samples, key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
    return after.get(key, 0.0) - before.get(key, 0.0)


_ROWS = ("carewatch_ingest_rows_stored_total", (("table", "readings"),))


def wait(seconds: float, what: str | None, ramp: Ramp, services: dict[str, Service]) -> None:
    """Sleep, but fail at once if a publisher or a service died."""
    deadline = time.monotonic() + seconds
    if what:
        console.print(f"  {what} (publishing {ramp.connected.value:,} devices)")
    while (left := deadline - time.monotonic()) > 0:
        ramp.check()
        for s in services.values():
            if not s.child.alive():
                raise RuntimeError(f"{s.child.name} died:\n{s.child.log_tail()}")
        time.sleep(min(0.5, left))


def wait_for_drain(ingest: Service, acked: int) -> str | None:
    """Until the ingest worker took in everything acknowledged and its writes settled."""
    deadline = time.monotonic() + DRAIN_WAIT_S
    last, stable_since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        samples = ingest.samples()
        received = samples.get(("carewatch_ingest_messages_received_total", ()), 0.0)
        stored = samples.get(_ROWS, 0.0)
        if stored != last:
            last, stable_since = stored, time.monotonic()
        if received >= acked and time.monotonic() - stable_since > 2.0:
            return None
        time.sleep(0.5)
    return (
        f"the ingest worker had not caught up {DRAIN_WAIT_S:.0f} s after the last publish: "
        "messages not yet stored count as lost"
    )


def stored_counts(settings: Settings, start: int, end: int) -> dict[str, int]:
    lo, hi = (datetime.fromtimestamp(t, UTC) for t in (start, end))
    with psycopg.connect(database_url(settings)) as conn:
        out = {}
        for stream, query in STORED.items():
            row = conn.execute(query, [lo, hi]).fetchone()
            out[stream] = int(row[0]) if row else 0
        return out


# --- results -----------------------------------------------------------------------------------


def step_result(
    w: StepWindow,
    reports: list[StreamCounts],
    stored: dict[str, int],
    pages: Pages,
    fall_published: Any,
) -> tuple[dict[str, Any], StepVerdict]:
    acked = {s: sum(in_window(r.acked, s, w.start, w.end) for r in reports) for s in STREAMS}
    published = {
        s: sum(in_window(r.published, s, w.start, w.end) for r in reports) for s in STREAMS
    }
    lost = lost_messages(acked, stored)
    seconds = w.end - w.start
    late = sum(r.late[t] for r in reports for t in range(w.start, w.end))
    on_time = sum(r.on_time[t] for r in reports for t in range(w.start, w.end))
    lag_max = max(
        (r.lag_max.get(t, 0.0) for r in reports for t in range(w.start, w.end)), default=0
    )
    latencies, never = [], []
    for i in w.fallers:
        page = pages.first.get(i)
        at = fall_published[i]
        if not at:
            never.append(i)  # the fall was never published: counted lost, and a problem
        elif page is None or page.at - at > PAGE_WAIT_S:
            never.append(i)
        else:
            latencies.append(page.at - at)
    problems = step_problems(
        late=late,
        on_time=on_time,
        lag_max_s=lag_max,
        background_cores=w.cpu.get(BACKGROUND, 0.0),
        background_processes=w.background,
        dead=w.dead,
        excess=excess_messages(acked, stored),
    )
    titles = {i: pages.first[i].title.lower() for i in w.fallers if i in pages.first}
    other = [i for i, title in titles.items() if "fall" not in title]
    if other:
        problems.append(f"{len(other)} fallers' first page was about something else")
    unpublished = sum(1 for i in w.fallers if not fall_published[i])
    if unpublished:
        problems.append(f"{unpublished} falls were never published")
    p99 = pct(latencies, 99)
    verdict = StepVerdict(w.step.residents, p99, sum(lost.values()), len(never), problems)
    expected_rate = w.step.residents * 2 * (1 + 1 / STATUS_EVERY_S)
    row: dict[str, Any] = {
        "residents": w.step.residents,
        "devices": w.step.residents * 2,
        "connect_new_s": w.connect_s,
        "window": {"start": w.start, "end": w.end, "seconds": seconds},
        "readings_stored_per_s": round(w.rows_stored / seconds, 1),
        "messages_published_per_s": round(sum(published.values()) / seconds, 1),
        "messages_expected_per_s": round(expected_rate, 1),
        "schedule": {
            "late_ratio": round(late / (late + on_time), 4) if late + on_time else None,
            "lag_max_ms": round(lag_max * 1000, 1),
        },
        "detector_lag_p99_ms": _hist_ms(w, "detector_lag"),
        "ingest_lag_p99_ms": _hist_ms(w, "ingest_lag"),
        # Share of the window the (busiest) detector's main loop was busy (1.0: it cannot
        # keep up), and its longest pauses, the snapshots.
        "detector_busy": round(w.detector_busy_s / seconds, 2),
        "detector_snapshot_p99_ms": _hist_ms(w, "detector_snapshot"),
        "alert_p50_ms": pct(latencies, 50),
        "alert_p99_ms": p99,
        "alert_max_ms": pct(latencies, 100),
        "falls_injected": len(w.fallers),
        "falls_paged": len(latencies),
        "lost_alerts": len(never),
        "acked": acked,
        "stored": stored,
        "lost_readings": sum(lost.values()),
        "lost_by_stream": lost,
        "cpu_cores": w.cpu,
        "background_processes": w.background,
        "memory_peak_mb": w.memory_mb,
        "ok": verdict.ok,
        "reasons": verdict.reasons(),
    }
    return row, verdict


def _hist_ms(w: StepWindow, key: str) -> float | None:
    """The window's p99 of a histogram; of several partitions, the worst."""
    name = HISTOGRAMS[key][1]
    found = [
        window_quantile(histogram_buckets(before, name), histogram_buckets(after, name), 0.99)
        for before, after in w.histograms[key]
    ]
    worst = max((q for q in found if q is not None), default=None)
    return None if worst is None else round(worst * 1000, 1)


# --- main --------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, steps: list[Step], settings: Settings) -> dict[str, Any]:
    stack = LocalStack(settings)
    services: dict[str, Service] = {}
    acker: Acker | None = None
    receiver: JsonReceiver | None = None
    ramp: Ramp | None = None
    residents = steps[-1].residents
    try:
        console.print(f"[bold]scratch stack[/] in {settings.data_dir}")
        stack.start()
        sites = site_names(args.sites)
        pairs, provision_s = provision(stack, residents, sites)
        console.print(f"provisioned {2 * residents:,} devices in {provision_s:.1f} s")
        acker = Acker(settings, 5.0)
        pages = Pages(residents, acker)
        receiver = JsonReceiver(on_arrival=pages.arrived)
        receiver.start()
        asyncio.run(store_care_team(settings, receiver.url("page"), sites))
        for service in pipeline(settings, sites if len(sites) > 1 else ()):
            service.start()
            services[service.child.name] = service
        ramp = Ramp(settings, residents, args.clients_per_process)
        used: set[int] = set()
        windows: list[StepWindow] = []
        run_problems: list[str] = []
        for step in steps:
            try:
                windows.append(run_step(args, step, pairs, ramp, stack, services, used))
            except (TimeoutError, RuntimeError) as exc:
                run_problems.append(f"step {step.number} ({step.residents:,}) failed: {exc}")
                break
        last_fall = max((ramp.fall_due[i] for w in windows for i in w.fallers), default=0.0)
        console.print("waiting for the last pages")
        while time.time() < last_fall + PAGE_WAIT_S and pages.count(used) < len(used):
            time.sleep(0.5)
        console.print("stopping the publishers; waiting for the ingest worker to drain")
        reports = ramp.finish()
        acked_total = sum(sum(r.acked.values()) for r in reports)
        drained = wait_for_drain(services["ingest"], acked_total)
        run_problems += [r.error for r in reports if r.error]
        if drained:
            run_problems.append(drained)
        unacked = sum(r.unacked for r in reports)
        rejected = sum(r.rejected for r in reports)
        disconnects = sum(r.disconnects for r in reports)
        if unacked or rejected or disconnects:
            run_problems.append(
                f"{unacked} publishes unacknowledged, {rejected} rejected, "
                f"{disconnects} device connections dropped"
            )
        dead = [name for name, s in services.items() if not s.child.alive()]
        run_problems += [f"{name} died during the run" for name in dead]
        rows, verdicts = [], []
        for w in windows:
            row, verdict = step_result(
                w, reports, stored_counts(settings, w.start, w.end), pages, ramp.fall_published
            )
            rows.append(row)
            verdicts.append(verdict)
        fallers = {i for w in windows for i in w.fallers}
        unexpected = len(pages.first.keys() - fallers)
        if unexpected:
            run_problems.append(f"{unexpected} residents paged with no injected fall")
        # An ingest worker still behind at the end taints only the steps whose messages it
        # had not stored yet, which fail on those counts already: a step whose every
        # acknowledged message is stored is exact either way. Anything else voids the run.
        trusted = all(problem == drained for problem in run_problems)
        return {
            "max_residents_ok": max_residents_ok(verdicts) if trusted else None,
            "target_residents": 2000,
            "lost_readings": sum(r["lost_readings"] for r in rows),
            "lost_alerts": sum(r["lost_alerts"] for r in rows),
            "steps": rows,
            "provisioning": {
                "devices": 2 * residents,
                "seconds": round(provision_s, 1),
                "method": "bulk: broker accounts in the dynamic-security file, rows by COPY "
                "(bench/bulk_devices.py)",
            },
            "config": {
                "steps": [s.residents for s in steps],
                "step_seconds": args.step_seconds,
                "warmup_s": args.warmup,
                "falls_per_step": args.falls_per_step,
                "clients_per_process": args.clients_per_process,
                "sites": sites,
                "detector_partitions": len(sites),
                "publisher_processes": len(ramp.procs),
                "page_wait_s": PAGE_WAIT_S,
                "alert_p99_limit_ms": ALERT_P99_LIMIT_MS,
            },
            "notifications_received": receiver.count(),
            "acks": dict(acker.results),
            "method": (
                "per step window [start, end) on message ts: lost = PUBACKed − stored (SQL "
                "count of a metric only that stream carries, after the ingest worker drained); "
                "alert latency = page arrival − time.time() before the fall's publish; lag "
                "p99 from the services' histograms over the window (bucket-interpolated); CPU "
                "from /proc ticks; memory = peak PSS sampled each second."
            ),
            "problems": run_problems
            + [f"step {v.residents}: {p}" for v in verdicts for p in v.problems],
        }
    finally:
        if ramp is not None and not ramp.stop_event.is_set():
            ramp.stop_event.set()
        if acker is not None:
            acker.stop()
        for service in reversed(list(services.values())):
            service.stop()
        if receiver is not None:
            receiver.stop()
        stack.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="500,1000,2000,5000", help="residents per step")
    parser.add_argument("--step-seconds", type=int, default=120, help="measuring window")
    parser.add_argument("--warmup", type=int, default=30, help="seconds before each window")
    parser.add_argument("--falls-per-step", type=int, default=30)
    parser.add_argument("--clients-per-process", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--sites",
        type=int,
        default=2,
        help="sites the residents are spread over, one detector partition each "
        "(docs/scaling.md); 1: one site, the single detector",
    )
    parser.add_argument("--quick", action="store_true", help="smoke check: 20, 50 residents")
    parser.add_argument("--keep", action="store_true", help="keep the scratch data dir")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.step_seconds, args.warmup, args.falls_per_step = "20,50", 30, 10, 5
    try:
        steps = parse_steps(args.steps)
        site_names(args.sites)
        chosen: set[int] = set()
        for step in steps:  # the same draws as the run: enough residents for every fall?
            chosen.update(pick_fallers(step, args.falls_per_step, chosen, args.seed))
    except ValueError as exc:
        parser.error(str(exc))

    began = time.monotonic()
    raise_fd_limit()
    settings = scratch_settings("carewatch-bench-load-")
    results = measure(args, steps, settings)
    results["elapsed_s"] = round(time.monotonic() - began, 1)
    results["machine"] = machine()
    return finish("load", results, settings, keep=args.keep, show=print_results, say=console.print)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def print_results(r: dict[str, Any]) -> None:
    table = Table(title="load: cumulative steps, 1 Hz vitals + bed per resident, status/60 s")
    for column in (
        "residents",
        "readings/s stored",
        "msg/s (of)",
        "detector lag p99",
        "detector busy, snapshot p99",
        "ingest lag p99",
        "alert p99",
        "paged",
        "lost",
        "",
    ):
        table.add_column(column, justify="right")
    for s in r["steps"]:
        table.add_row(
            f"{s['residents']:,}",
            f"{s['readings_stored_per_s']:,.0f}",
            f"{s['messages_published_per_s']:,.0f} ({s['messages_expected_per_s']:,.0f})",
            _ms(s["detector_lag_p99_ms"]),
            f"{s['detector_busy']:.0%}, {_ms(s['detector_snapshot_p99_ms'])}",
            _ms(s["ingest_lag_p99_ms"]),
            _ms(s["alert_p99_ms"]),
            f"{s['falls_paged']}/{s['falls_injected']}",
            f"{s['lost_readings']}",
            "[green]ok[/]" if s["ok"] else "[red]fail[/]",
        )
    console.print(table)
    roles = sorted({role for s in r["steps"] for role in s["cpu_cores"]})
    cpu = Table(title=f"CPU cores (of {os.cpu_count()}) / peak memory MB (PSS), per step")
    cpu.add_column("process")
    for s in r["steps"]:
        cpu.add_column(f"{s['residents']:,}", justify="right")
    for role in roles:
        cells = []
        for s in r["steps"]:
            mem = s["memory_peak_mb"].get(role)
            cells.append(f"{s['cpu_cores'].get(role, 0):.2f}" + (f" / {mem:,.0f}" if mem else ""))
        cpu.add_row(role, *cells)
    console.print(cpu)
    for s in r["steps"]:
        for reason in s["reasons"]:
            console.print(f"  step {s['residents']:,}: {reason}")
    best = r["max_residents_ok"]
    verdict = "none" if best is None else f"{best:,}"
    met = best is not None and best >= r["target_residents"]
    colour = "green" if met else "red"
    console.print(
        f"[bold]max residents ok:[/] [{colour}]{verdict}[/] (target {r['target_residents']:,}); "
        f"lost readings {r['lost_readings']}, lost alerts {r['lost_alerts']}"
    )


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (CareWatchError, RuntimeError, TimeoutError, threading.BrokenBarrierError) as exc:
        console.print(f"[red]load benchmark failed:[/] {exc}")
        sys.exit(1)
