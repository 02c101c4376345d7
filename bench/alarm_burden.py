"""Alarm burden (issue #12): pages per resident-day of a simulated normal week, through the
real broker, ingest worker, detector, alert service and a real notification receiver.

The week: the live ward of `carewatch sim` (30 residents, each a wearable and a bed sensor;
the demo's physiology and daily routine: meals, the morning wash with the wearable off,
everyday activities with their motion windows, charging), 7 days, readings every minute (the
scenario library's cadence), with device faults: Wi-Fi drops (4 per device-day, 20 s to
15 min, the backlog sent on reconnecting), clock drift, duplicates and out-of-order delivery.
Into it go labelled true events (bench/alarm_plan.py): each day a device-reported fall, a
30-minute hypoxia (SpO2 84 %), a 2-hour NEWS2 deterioration and a wearable going offline for
45 minutes, each on a resident of its own, all longer than any Wi-Fi drop so that their data
arrive while they still go on: each must be paged. And each day one event that must not be:
a wearable out of Wi-Fi for 20 minutes, its SpO2 at 84 % for 6 minutes in the middle, the
backlog arriving on reconnecting, 12 minutes after the hypoxia ended.

The care team: a day and a night caregiver, a charge nurse, a physician, infection control
and disease control, each paged at their own `json://` path of a receiver in this process.
The escalation policy is the product's default (the team sets none), so the routing under
test is the code's own. Staff are modelled: each incident's page is acknowledged after a
delay drawn per incident (60 % within 30-120 s, 25 % 2-5 min, 15 % 5-15 min: a busy night
shift), and its clinical alerts resolved 10 minutes later ("actionable" if it matches an
injected event, else "false alarm"); device alerts are left to clear themselves.

Time. A week cannot run in real time, and every service times something: the detector runs
its timers (silence, persistence, long lie) on its clock once it is caught up, the alert
service escalates and renotifies on its clock. Scaling the policy's timeouts would leave
the detector judging week-old data against the wall clock (every device silent), so both
are given the stream's clock instead (their `clock` parameter; they run as child processes
built as `carewatch detect` / `carewatch alerts` build them). That clock is the latest
message time the detector has taken in, of the median device: the bench publishes the
week in the order the devices produce it at `--speed` (1,000 simulated seconds per second),
but 60 MQTT connections on two loaded cores arrive a second or so apart, which is 1,000
simulated seconds, and judged against the newest device the others would all look silent.
The detector flushes and ticks every 20 ms, the alert service ticks every 20 ms (20
simulated seconds at the default speed, fine against the policy's 30 s to 5 min); the
escalation policy's timeouts are the product's own, in simulated seconds. Delivery, the
outbox's retries, stays on the wall clock (it is about the receiver, not the week). Pages
are timed by the stream's clock when the receiver gets them; the modelled staff act on it.
The alert service runs as an active/standby pair (docs/scaling.md): when the active one
dies (as it did, many times a simulated day, of a deadlock between its decision step and its
delivery loop, since fixed), the standby takes over within 20 ms from the stored book and a
new standby is started; the takeovers are reported. The ingest worker is the real
`carewatch ingest`.

Counted, from the pages delivered (the outbox rows marked delivered, each matched to what the
receiver got): pages per resident-day by family (clinical, device, outbreak: the incident's
alerts' rules) and by step (the recipient's role: caregiver, nurse, physician); clinical
pages that match no injected event (non-actionable); device incidents paged to a physician;
pages for a condition that had ended before its data arrived (about the injected late
hypoxia, or every alert raised from data a Wi-Fi drop held back and cleared by data from
before the device reconnected); and each injected event's first page.

Run: `.venv/bin/python -m bench.alarm_burden` (about 11-20 minutes on 2 cores, less without the
hold-back of the stream behind the alert service; `--quick`: one day, about 3 minutes).
Writes bench/results/alarm_burden.json (`--quick`: alarm_burden-quick.json). Exits non-zero
when the figures cannot be trusted (a service died, pages still undelivered after the week)
or the targets are missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import queue
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import AsyncConnection
from rich.console import Console
from rich.table import Table

from bench.alarm_plan import (
    FAMILIES,
    STEPS,
    AlertRow,
    Drop,
    InjectedSource,
    Injection,
    PageRow,
    late_drops,
    make_plan,
    matches,
    paged_events,
    tally,
    wearable_off,
)
from bench.common import finish, machine
from bench.receiver import JsonReceiver, Notification
from bench.services import Service
from device_sim.connections import close_all, connect_all
from device_sim.devices import SimDevice
from device_sim.faults import Faults
from device_sim.physiology import DEFAULT_TZ
from device_sim.publisher import DevicePublisher
from device_sim.run_summary import Tally
from device_sim.simulation import build
from device_sim.ward import WardOptions
from services.alerts.links import LinkError, LinkSigner
from services.careteam.store import store_team
from services.careteam.team import load_care_team
from services.devices import repo
from services.devices.provisioning import assign_device, provision_device
from services.errors import CareWatchError
from services.operations.broker.dynsec import DynsecAdmin
from services.operations.local.env import scratch_settings
from services.operations.local.stack import LocalStack
from services.settings import Settings, admin_token, database_url, mqtt_admin_endpoint

SITE = "alarm"
UNIT = "ward"
TARGETS = {
    "clinical_nonactionable_pages_per_resident_day": 0.2,
    "device_pages_to_physicians": 0,
    "pages_for_ended_conditions": 0,
    "true_events_paged_ratio": 1.0,
}
FLUSH_S = 0.02  # detector batch flush and timer tick, alert service tick (wall seconds)
RESOLVE_AFTER_S = 600.0  # simulated: a clinical alert is resolved this long after the ack
STAFF = (
    # id, name, role, shift start, shift end (site local time; equal: all day)
    ("cg-day", "Day Caregiver", "caregiver", "07:00", "19:00"),
    ("cg-night", "Night Caregiver", "caregiver", "19:00", "07:00"),
    ("nurse", "Charge Nurse", "charge_nurse", "00:00", "00:00"),
    ("doctor", "Ward Physician", "physician", "00:00", "00:00"),
    ("ipc", "Infection Control", "infection_control", "00:00", "00:00"),
    ("cdc", "Disease Control", "disease_control", "00:00", "00:00"),
)
ROLES = {s[0]: s[2] for s in STAFF}
ACK_LINK = re.compile(r"/a/(\S+)")

console = Console()
log = logging.getLogger("carewatch.bench.alarm")


# --- the simulated clock and the services that run on it ---------------------------------------


def _clock(shared: Synchronized[float]) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(shared.value, UTC)


def _child_logging(settings: Settings, name: str) -> None:
    path = Path(settings.data_dir) / "log" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=path, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )


def run_detector(settings: Settings, shared: Any, ready: Any, stop: Any) -> None:
    """`carewatch detect`, built as the CLI builds it, on the stream's clock: the latest
    message time it has taken in, shared with the alert service through `shared`."""
    from prometheus_client import CollectorRegistry

    from ingest.pipeline import Inbound
    from services.detector.config import DetectorConfig
    from services.detector.metrics import DetectorMetrics
    from services.detector.service import Detector
    from services.settings import mqtt_ingest_endpoint

    latest: dict[str, float] = {}

    class StreamClockDetector(Detector):
        def _process(self, batch: list[Inbound], *, tick: bool) -> None:
            for item in batch:
                try:
                    ts = json.loads(item.payload)["ts"] / 1000
                    device = item.topic.split("/")[3]
                except (ValueError, KeyError, TypeError, IndexError):
                    continue  # ingest dead-letters it
                if ts > latest.get(device, 0.0):
                    latest[device] = ts
            if latest:
                # The median device's latest time: 60 MQTT connections on two loaded cores
                # deliver a second or so apart, a thousand simulated seconds at full speed;
                # judged against the newest, the others would all look silent.
                shared.value = max(shared.value, sorted(latest.values())[len(latest) // 2])
            super()._process(batch, tick=tick)

    _child_logging(settings, "detect-sim")
    detector = StreamClockDetector(
        DetectorConfig(flush_s=FLUSH_S, tick_s=FLUSH_S),
        mqtt_endpoint=mqtt_ingest_endpoint(settings),
        database_url=database_url(settings, "detector"),
        metrics=DetectorMetrics(CollectorRegistry()),
        clock=_clock(shared),
    )
    thread = threading.Thread(target=detector.run, name="detector", daemon=True)
    thread.start()
    while not detector.consumer.subscribed.wait(0.2):
        if not thread.is_alive():
            raise SystemExit("the detector stopped before subscribing")
    ready.set()
    while not stop.wait(0.5):
        if not thread.is_alive():
            raise SystemExit("the detector died")
    detector.stop()
    thread.join(timeout=60)


def run_alerts(settings: Settings, shared: Any, ready: Any, stop: Any) -> None:
    """`carewatch alerts`, built as the CLI builds it, on the simulated clock."""
    from prometheus_client import CollectorRegistry

    from services.alerts.metrics import AlertMetrics
    from services.alerts.service import AlertService, AlertServiceConfig
    from services.referrals.for_alerts import AlertReferrals

    class WallClockDelivery(AlertService):
        """Delivery is about the receiver, not the week: its retries and the outbox's
        `next_attempt_at` (the database's now()) are wall-clock."""

        async def _deliver_loop(self, conn: Any, wake: asyncio.Event) -> None:
            while not self._stop.is_set():
                wake.clear()
                if await self.delivery.run_once(conn, datetime.now(UTC)):
                    continue
                due = await self.delivery.next_due_in(conn, datetime.now(UTC))
                timeout = 1.0 if due is None else min(1.0, max(0.01, due))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=timeout)

    _child_logging(settings, "alerts-sim")
    registry = CollectorRegistry()
    service = WallClockDelivery(
        database_url(settings, "alerts"),
        signer=LinkSigner(admin_token(settings), ttl_s=settings.ack_link_ttl_s),
        metrics=AlertMetrics(registry),
        referrals=AlertReferrals(),
        config=AlertServiceConfig(
            base_url=settings.base_url, tick_s=FLUSH_S, standby_poll_s=FLUSH_S
        ),
        clock=_clock(shared),
    )
    thread = threading.Thread(target=service.run, name="alerts", daemon=True)
    thread.start()
    # A standby (see `measure`) waits here until the active one is gone.
    while registry.get_sample_value("carewatch_alerts_ready") != 1.0:
        if not thread.is_alive() or stop.is_set():
            service.stop()
            raise SystemExit("the alert service stopped before it was active")
        time.sleep(0.02)
    ready.set()
    while not stop.wait(0.1):
        if not thread.is_alive():
            raise SystemExit("the alert service died")
    service.stop()
    thread.join(timeout=60)


class SimChild:
    def __init__(self, ctx: Any, name: str, target: Any, settings: Settings, shared: Any) -> None:
        self.name = name
        self._spec = (ctx, target, settings, shared)
        self.ready = ctx.Event()
        self.stop_event = ctx.Event()
        self.process = self._make()

    def _make(self) -> Any:
        ctx, target, settings, shared = self._spec
        return ctx.Process(
            target=target,
            args=(settings, shared, self.ready, self.stop_event),
            name=self.name,
            daemon=True,
        )

    def start(self, *, wait: bool = True) -> None:
        self.process.start()
        if not wait:
            return
        deadline = time.monotonic() + 90
        while not self.ready.wait(0.2):
            if not self.process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start (see its log under log/)")

    def alive(self) -> bool:
        return bool(self.process.is_alive())

    def stop(self) -> None:
        self.stop_event.set()
        self.process.join(timeout=90)
        if self.process.is_alive():
            self.process.kill()


# --- set-up ---------------------------------------------------------------------------------------


async def provision(settings: Settings, residents: int) -> tuple[list[SimDevice], dict[int, int]]:
    """Residents and their two devices each, through the product's provisioning; returns the
    devices and resident id → ward index."""
    devices: list[SimDevice] = []
    index_of: dict[int, int] = {}
    with DynsecAdmin(mqtt_admin_endpoint(settings)) as broker:
        async with await AsyncConnection.connect(database_url(settings), autocommit=True) as c:
            await repo.ensure_site(c, site_id=SITE, name="Alarm burden bench")
            await repo.ensure_unit(c, site_id=SITE, unit_id=UNIT, name="Ward")
            for i in range(residents):
                rid = await repo.create_resident(
                    c, site_id=SITE, unit_id=UNIT, display_name=f"Resident {i:02d}"
                )
                index_of[rid] = i
                kinds: tuple[tuple[Literal["wearable", "bed_sensor"], str], ...] = (
                    ("wearable", "w"),
                    ("bed_sensor", "b"),
                )
                for kind, prefix in kinds:
                    device = await provision_device(
                        c, broker, device_id=f"ab-{prefix}{i:02d}", site_id=SITE, kind=kind
                    )
                    await assign_device(
                        c,
                        device_id=device.device_id,
                        resident_id=rid,
                        at=datetime(2000, 1, 1, tzinfo=UTC),
                    )
                    devices.append(SimDevice(device.device_id, SITE, kind, device.password, str(i)))
    return devices, index_of


async def store_care_team(settings: Settings, receiver: JsonReceiver) -> None:
    team = load_care_team(
        {
            "staff": [
                {"id": sid, "name": name, "role": role, "channels": [receiver.url(sid)]}
                for sid, name, role, _, _ in STAFF
            ],
            "shifts": [
                {"staff": sid, "site": SITE, "start": start, "end": end}
                for sid, _, _, start, end in STAFF
            ],
        }
    )
    async with await AsyncConnection.connect(database_url(settings)) as conn:
        await store_team(conn, team, by="bench")
        await conn.commit()


# --- staff ----------------------------------------------------------------------------------------


def ack_delay(alert_id: int, seed: int) -> float:
    """Simulated seconds from an incident's first page to its acknowledgement."""
    rng = random.Random(f"ack:{seed}:{alert_id}")
    u = rng.random()
    if u < 0.60:
        return rng.uniform(30, 120)
    if u < 0.85:
        return rng.uniform(120, 300)
    return rng.uniform(300, 900)


class Staff:
    """Acknowledges each incident (by the alert its page's link names) after `ack_delay`
    simulated seconds, and resolves its clinical alerts RESOLVE_AFTER_S later, through the
    alert service's command queue (as the API and the one-time links do)."""

    def __init__(
        self,
        settings: Settings,
        shared: Synchronized[float],
        plan: list[Injection],
        start: datetime,
        index_of: dict[int, int],
        seed: int,
    ) -> None:
        self.url = database_url(settings)
        self.signer = LinkSigner(admin_token(settings), ttl_s=10**9)
        self.shared = shared
        self.plan = plan
        self.start = start
        self.index_of = index_of
        self.seed = seed
        self.seen: set[int] = set()
        self.done = {"ack": 0, "resolve": 0}
        self._inbox: queue.Queue[tuple[int, str, float]] = queue.Queue()
        self._due: list[tuple[float, str, int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="staff", daemon=True)
        self._thread.start()

    def arrived(self, n: Notification, sim_at: float) -> None:
        match = ACK_LINK.search(n.body)
        if match is None:
            return
        try:
            alert_id, staff_id, _ = self.signer.verify(match.group(1))
        except LinkError:
            return
        self._inbox.put((alert_id, staff_id, sim_at))

    def pending(self) -> int:
        return len(self._due) + self._inbox.qsize()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(FLUSH_S):
                while True:
                    try:
                        alert_id, staff_id, at = self._inbox.get_nowait()
                    except queue.Empty:
                        break
                    if alert_id in self.seen:
                        continue
                    self.seen.add(alert_id)
                    ack_at = at + ack_delay(alert_id, self.seed)
                    self._due.append((ack_at, "ack", alert_id, staff_id))
                    self._due.append((ack_at + RESOLVE_AFTER_S, "resolve", alert_id, staff_id))
                now = self.shared.value
                ready = sorted(d for d in self._due if d[0] <= now)
                self._due = [d for d in self._due if d[0] > now]
                for _, kind, alert_id, staff_id in ready:
                    if kind == "ack":
                        self._command(conn, "ack", alert_id, staff_id, None)
                    else:
                        self._resolve(conn, alert_id, staff_id)

    def _command(
        self,
        conn: psycopg.Connection[Any],
        kind: str,
        alert_id: int,
        actor: str,
        outcome: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO alert_commands (kind, alert_id, actor, via, outcome, note)"
            " VALUES (%s, %s, %s, 'bench', %s, NULL)",
            [kind, alert_id, actor, outcome],
        )
        self.done[kind] += 1

    def _resolve(self, conn: psycopg.Connection[Any], alert_id: int, actor: str) -> None:
        rows = conn.execute(
            "SELECT alert_id, rule_id, resident_id, first_ts, dedupe_key FROM alerts"
            " WHERE incident_id = (SELECT incident_id FROM alerts WHERE alert_id = %s)"
            " AND resolved_at IS NULL AND rule_id NOT LIKE 'device.%%'",
            [alert_id],
        ).fetchall()
        for aid, rule, rid, first_ts, key in rows:
            row = AlertRow(int(aid), rule, self.index_of.get(rid), first_ts, key)
            real = any(matches(row, i, self.start) for i in self.plan if not i.history)
            self._command(conn, "resolve", int(aid), actor, "actionable" if real else "false_alarm")


# --- the run --------------------------------------------------------------------------------------


def play(
    settings: Settings,
    devices: list[SimDevice],
    plan: list[Injection],
    args: argparse.Namespace,
    start: datetime,
    shared: Synchronized[float],
    watch: Callable[[], None],
) -> tuple[Any, dict[str, Any]]:
    """Publish the week at `args.speed` (the services follow on the stream's clock)."""
    faults = Faults(
        wifi_drops_per_day=args.wifi_drops,
        clock_drift_ppm=20.0,
        duplicate_rate=0.001,
        reorder_rate=0.001,
    )
    sim = build(
        devices,
        seed=args.seed,
        start=start,
        duration_s=args.days * 86400.0,
        rate_hz=1 / 60,
        ward=WardOptions(routine=True),
        faults=faults,
    )
    sim.source = InjectedSource(sim.source, plan, start=start, clocks=sim._clocks)

    def connect(device: SimDevice) -> DevicePublisher:
        publisher = DevicePublisher(device, host="127.0.0.1", port=settings.mqtt_port)
        publisher.connect()
        return publisher

    publishers = connect_all(sorted(devices, key=lambda d: d.device_id), connect)
    counts = Tally()
    began = time.monotonic()
    shown = [0.0]
    watched = [0.0]
    behind = 0.0
    try:
        # In the order produced, never regrouped by device as `carewatch sim` does for speed:
        # the detector's clock is the stream's, and one device's messages running minutes
        # ahead of another's would make the other look silent.
        for delivery in sim.deliveries():
            delay = began + delivery.offset_s / args.speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                behind = max(behind, -delay)
            publisher = publishers[delivery.device_id]
            if publisher.take_reconnected():
                t = start + timedelta(seconds=delivery.offset_s)
                status = sim.status_now(delivery.device_id, t)
                if status is not None:
                    publisher.publish(status)
                    counts.add(status)
            publisher.publish(delivery.message)
            counts.add(delivery.message, delivery.kind, delivery.detail)
            now = time.monotonic()
            if now - watched[0] >= 0.1:
                watched[0] = now
                watch()
            if now - shown[0] >= 5:
                shown[0] = now
                t = start + timedelta(seconds=delivery.offset_s)
                console.print(
                    f"  {t.astimezone(DEFAULT_TZ):%a %H:%M} simulated, {counts.total:,} "
                    f"messages, {now - began:.0f} s"
                )
        return (sim, publishers), {
            "messages": counts.total,
            "by_kind": dict(counts.by_kind),
            "by_stream": dict(counts.by_stream),
            "publish_s": round(time.monotonic() - began, 1),
            "max_behind_schedule_s": round(behind, 1),
            "lost_in_buffers": sim.lost,
        }
    except BaseException:
        close_all(publishers, timeout_s=2.0)
        raise


def drain(settings: Settings, watch: Callable[[], None], timeout: float) -> list[str]:
    """Wait (wall time, the simulated clock standing) until the alert service has taken every
    candidate and the outbox is empty."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM alert_candidates WHERE consumed_at IS NULL),"
                " (SELECT count(*) FROM notifications WHERE status = 'pending'"
                "  AND kind = 'page'),"
                " (SELECT count(*) FROM alert_commands WHERE status IS NULL)"
            ).fetchone()
            assert row is not None
            if row == (0, 0, 0):
                return []
            watch()
            if time.monotonic() > deadline:
                return [
                    f"after the week, {row[0]} candidates untaken, {row[1]} pages undelivered, "
                    f"{row[2]} staff commands unanswered"
                ]
            time.sleep(0.5)


def collect(
    settings: Settings,
    received: list[tuple[Notification, float]],
    index_of: dict[int, int],
) -> tuple[list[PageRow], dict[str, list[datetime]], int]:
    """Delivered pages (outbox rows, matched to the receiver's copies for their simulated
    arrival), their incidents' alerts, and every clear's data time by dedupe key."""
    arrival = {(n.path.strip("/"), n.body): at for n, at in received}
    with psycopg.connect(database_url(settings)) as conn:
        alerts: dict[int, list[AlertRow]] = {}
        for aid, iid, rule, rid, first_ts, key in conn.execute(
            "SELECT alert_id, incident_id, rule_id, resident_id, first_ts, dedupe_key FROM alerts"
        ):
            alerts.setdefault(int(iid), []).append(
                AlertRow(int(aid), rule, index_of.get(rid), first_ts, key)
            )
        clears: dict[str, list[datetime]] = {}
        for key, ts in conn.execute(
            "SELECT dedupe_key, ts FROM alert_candidates WHERE action = 'clear'"
        ):
            clears.setdefault(key, []).append(ts)
        pages: list[PageRow] = []
        unmatched = 0
        for recipient, iid, body in conn.execute(
            "SELECT recipient, incident_id, body FROM notifications"
            " WHERE kind = 'page' AND status = 'delivered' ORDER BY notification_id"
        ):
            at = arrival.get((recipient, body))
            if at is None:
                unmatched += 1
                continue
            pages.append(
                PageRow(
                    ROLES.get(recipient, "other"),
                    datetime.fromtimestamp(at, UTC),
                    tuple(alerts.get(int(iid), ())),
                )
            )
    return pages, clears, unmatched


def drops_of(records: list[dict[str, Any]], resident_of: dict[str, int]) -> list[Drop]:
    out = []
    for r in records:
        if r.get("type") != "fault" or r.get("kind") != "wifi_drop":
            continue
        if r.get("reconnected_at") is None or r["device"] not in resident_of:
            continue
        out.append(
            Drop(
                resident_of[r["device"]],
                datetime.fromisoformat(r["start"]),
                datetime.fromisoformat(r["end"]),
                datetime.fromisoformat(r["reconnected_at"]),
            )
        )
    return out


def week_start(days: int) -> datetime:
    """Local midnight far enough back that the whole run lies in the past (ingest refuses
    timestamps more than 5 minutes ahead)."""
    local = datetime.now(DEFAULT_TZ) - timedelta(days=days + 1)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def measure(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    began = time.monotonic()
    start = week_start(args.days)
    ctx = mp.get_context("spawn")
    shared: Synchronized[float] = ctx.Value("d", start.timestamp(), lock=False)
    stack = LocalStack(settings)
    receiver: JsonReceiver | None = None
    staff: Staff | None = None
    ingest: Service | None = None
    children: list[SimChild] = []
    alert_children: list[SimChild] = []
    closers: list[Callable[[], None]] = []
    publishers: dict[str, Any] = {}
    received: list[tuple[Notification, float]] = []
    lock = threading.Lock()
    problems: list[str] = []
    try:
        console.print(f"[bold]scratch stack[/] in {settings.data_dir}")
        stack.start()
        devices, index_of = asyncio.run(provision(settings, args.residents))
        # The ward's own wear-off times first (a pass over the week without faults), so that
        # no event is injected while the wearable is in the wash or on the charger.
        ward = build(
            devices,
            seed=args.seed,
            start=start,
            duration_s=args.days * 86400.0,
            rate_hz=1 / 60,
            ward=WardOptions(routine=True),
        )
        wearables = {d.device_id: int(d.resident_key) for d in devices if d.kind == "wearable"}
        off = wearable_off(ward.source.emitted(), wearables)
        plan = make_plan(args.residents, args.days, seed=args.seed, off=off)
        staff = Staff(settings, shared, plan, start, index_of, args.seed)

        def arrived(n: Notification) -> None:
            at = shared.value
            with lock:
                received.append((n, at))
            assert staff is not None
            staff.arrived(n, at)

        receiver = JsonReceiver(on_arrival=arrived)
        receiver.start()
        asyncio.run(store_care_team(settings, receiver))
        ingest = Service(
            settings, "ingest", settings.ingest_metrics_port, "carewatch_ingest_subscribed"
        )
        ingest.start()
        detector = SimChild(ctx, "detect-sim", run_detector, settings, shared)
        detector.start()
        children.append(detector)
        active = SimChild(ctx, "alerts-sim", run_alerts, settings, shared)
        active.start()
        standby = SimChild(ctx, "alerts-sim", run_alerts, settings, shared)
        standby.start(wait=False)
        alert_children += [active, standby]
        restarts = [0]

        def swap(child: SimChild) -> None:
            nonlocal active
            active = child

        backlog = psycopg.connect(database_url(settings), autocommit=True)
        closers.append(backlog.close)

        def watch() -> None:
            for child in children:
                if not child.alive():
                    raise RuntimeError(f"{child.name} died (see its log under log/)")
            if not (active.alive() and standby.alive()):
                take_over()
            # Backpressure: the stream's clock must not run ahead of an alert service that
            # is behind (a takeover, a busy machine): at 1,000x a few seconds behind would
            # be an hour of simulated time before a page goes out. Wait (bounded) until it
            # has taken every candidate and the outbox holds no page.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                row = backlog.execute(
                    "SELECT (SELECT count(*) FROM alert_candidates WHERE consumed_at IS NULL)"
                    " + (SELECT count(*) FROM notifications WHERE status = 'pending'"
                    "    AND kind = 'page')"
                ).fetchone()
                if row is None or row[0] == 0:
                    break
                time.sleep(0.02)

        def take_over() -> None:
            nonlocal standby
            # The alert service can die of a deadlock between its decision step and its
            # delivery loop. As deployed (docs/scaling.md), a standby takes over within its
            # poll (20 ms here) and carries on from the stored book; a new standby is started.
            if not active.alive() and not standby.alive():
                raise RuntimeError("both alert services died (see log/alerts-sim.log)")
            restarts[0] += 1
            if not active.alive():
                swap(standby)
            standby = SimChild(ctx, "alerts-sim", run_alerts, settings, shared)
            standby.start(wait=False)
            alert_children.append(standby)

        console.print(
            f"[bold]playing[/] {args.residents} residents × {args.days} days from "
            f"{start:%Y-%m-%d %H:%M %Z} at {args.speed:g}× with {len(plan)} injected events"
        )
        (sim, publishers_), stream = play(settings, devices, plan, args, start, shared, watch)
        publishers = publishers_
        watch()
        problems += drain(settings, watch, timeout=120)
        stream["alert_service_takeovers"] = restarts[0]
        # The services stop before the devices disconnect: their wills (online: false) and a
        # clock standing still must not count as the week's alerts.
        for child in [*alert_children, *children]:
            child.stop()
        children, alert_children = [], []
        close_all(publishers, timeout_s=10.0)
        publishers = {}
        resident_of = {d.device_id: int(d.resident_key) for d in devices}
        with lock:
            got = list(received)
        pages, clears, unmatched = collect(settings, got, index_of)
        drops = drops_of(sim.labels.records, resident_of) + late_drops(plan, start)
        if unmatched:
            problems.append(f"{unmatched} delivered pages never reached the receiver")
        return results(args, plan, start, pages, clears, drops, stream, staff, problems, began)
    finally:
        for close in closers:
            close()
        if staff is not None:
            staff.stop()
        for child in [*alert_children, *children]:
            child.stop()
        if publishers:
            close_all(publishers, timeout_s=2.0)
        if ingest is not None:
            ingest.stop()
        if receiver is not None:
            receiver.stop()
        stack.stop()


def results(
    args: argparse.Namespace,
    plan: list[Injection],
    start: datetime,
    pages: list[PageRow],
    clears: dict[str, list[datetime]],
    drops: list[Drop],
    stream: dict[str, Any],
    staff: Staff,
    problems: list[str],
    began: float,
) -> dict[str, Any]:
    resident_days = args.residents * args.days
    t = tally(pages, plan, start, clears, drops)
    assert t.by_family is not None and t.by_step is not None
    assert t.by_family_step is not None and t.by_rule is not None
    events = paged_events(pages, plan, start)
    paged = sum(1 for i, at in events if at is not None and not i.history)
    late_paged = sum(1 for i, at in events if at is not None and i.history)

    def per_day(n: int) -> float:
        return float(round(n / resident_days, 3))

    out: dict[str, Any] = {
        "pages_per_resident_day": per_day(t.pages),
        "clinical_pages_per_resident_day": per_day(t.by_family["clinical"]),
        "clinical_nonactionable_pages_per_resident_day": per_day(t.clinical_nonactionable),
        "device_pages_to_physicians": t.device_to_physicians,
        "pages_for_ended_conditions": t.ended,
        "true_events_paged": paged,
        "true_events": sum(1 for i in plan if not i.history),
        "ended_events_paged": late_paged,
        "ended_events": sum(1 for i in plan if i.history),
        "pages": t.pages,
        "resident_days": resident_days,
        "pages_per_resident_day_by_family": {f: per_day(t.by_family[f]) for f in FAMILIES},
        "pages_per_resident_day_by_step": {s: per_day(t.by_step[s]) for s in STEPS},
        "pages_by_family_and_step": dict(sorted(t.by_family_step.items())),
        "physician_pages_naming_a_device_alert": t.physician_with_device_alert,
        "pages_by_rule": dict(t.by_rule.most_common()),
        "injected": [
            {
                **i.label(start),
                "first_page_after_s": (
                    None
                    if at is None
                    else round((at - start - timedelta(seconds=i.start_s)).total_seconds())
                ),
            }
            for i, at in events
        ],
        "wifi_drops": len(drops),
        "page_log": [
            {
                "at": p.at.isoformat(timespec="seconds"),
                "to": p.recipient_role,
                "alerts": [
                    f"{a.rule_id} r{a.resident} {a.first_ts.isoformat(timespec='seconds')}"
                    for a in p.alerts
                ],
            }
            for p in pages
        ],
        "stream": stream,
        "staff": {"acks": staff.done["ack"], "resolutions": staff.done["resolve"]},
        "config": {
            "residents": args.residents,
            "days": args.days,
            "speed": args.speed,
            "seed": args.seed,
            "readings_every_s": 60,
            "wifi_drops_per_device_day": args.wifi_drops,
            "clock_drift_ppm": 20.0,
            "duplicate_rate": 0.001,
            "reorder_rate": 0.001,
            "routine": True,
            "staff": [
                dict(zip(("id", "name", "role", "start", "end"), s, strict=True)) for s in STAFF
            ],
            "ack_delay": "per incident: 60 % 30-120 s, 25 % 2-5 min, 15 % 5-15 min (simulated)",
            "resolve_after_ack_s": RESOLVE_AFTER_S,
            "service_tick_s": FLUSH_S,
            "escalation_policy": "the product's default (the care team sets none)",
        },
        "time": (
            "One clock for the detector and the alert service: the stream's, the latest "
            "message time the detector has taken in of the median device (the week is "
            f"published in order at {args.speed:g} simulated seconds per second; the median "
            "absorbs the skew between the devices' MQTT connections). Both run as child "
            "processes built as the CLI builds them, with a 20 ms flush/tick; the policy's "
            "timeouts are the product's own, in simulated seconds. Delivery retries stay on "
            "the wall clock. Pages are timed by the stream's clock when the receiver gets "
            "them; the modelled staff act on it."
        ),
        "alert_service_takeovers_note": (
            "stream.alert_service_takeovers: how often the active alert service died of a "
            "PostgreSQL deadlock between its decision step and its delivery loop (delivery's "
            "first-delivery update vs the step's events lock) and its standby took over"
        ),
        "method": (
            "pages = outbox rows of kind 'page' marked delivered and received; family from "
            "the incident's alerts' rules (clinical if any is clinical); step from the "
            "recipient's role; actionable = an alert of the incident is about an injected "
            "event (same resident and family, data time from 2 min before its start to "
            "30 min after its end); ended condition = every alert of the incident was raised "
            "from data inside a Wi-Fi drop of the resident's device and cleared (detector's "
            "clear candidate) by data from before the device reconnected (device.offline, "
            "raised by silence, excepted)."
        ),
        "targets": TARGETS,
        "problems": problems,
        "elapsed_s": round(time.monotonic() - began, 1),
        "machine": machine(),
    }
    out["verdict"] = verdict(out)
    return out


def verdict(r: dict[str, Any]) -> dict[str, bool]:
    return {
        "clinical_nonactionable": r["clinical_nonactionable_pages_per_resident_day"]
        <= TARGETS["clinical_nonactionable_pages_per_resident_day"],
        "device_pages_to_physicians": r["device_pages_to_physicians"] == 0,
        "pages_for_ended_conditions": r["pages_for_ended_conditions"] == 0,
        "true_events_paged": r["true_events_paged"] == r["true_events"],
    }


def print_results(r: dict[str, Any]) -> None:
    table = Table(title=f"alarm burden: {r['resident_days']} resident-days")
    for column in ("figure", "measured", "target", "verdict"):
        table.add_column(column)
    v = r["verdict"]

    def mark(ok: bool) -> str:
        return "[green]met[/]" if ok else "[red]missed[/]"

    table.add_row("pages per resident-day", f"{r['pages_per_resident_day']}", "", "")
    for family, value in r["pages_per_resident_day_by_family"].items():
        table.add_row(f"  {family}", f"{value}", "", "")
    for step, value in r["pages_per_resident_day_by_step"].items():
        table.add_row(f"  to {step}", f"{value}", "", "")
    table.add_row(
        "clinical non-actionable per resident-day",
        f"{r['clinical_nonactionable_pages_per_resident_day']}",
        "≤ 0.2",
        mark(v["clinical_nonactionable"]),
    )
    table.add_row(
        "device pages to physicians",
        f"{r['device_pages_to_physicians']}",
        "0",
        mark(v["device_pages_to_physicians"]),
    )
    table.add_row(
        "pages for ended conditions",
        f"{r['pages_for_ended_conditions']}",
        "0",
        mark(v["pages_for_ended_conditions"]),
    )
    table.add_row(
        "injected true events paged",
        f"{r['true_events_paged']} / {r['true_events']}",
        "all",
        mark(v["true_events_paged"]),
    )
    console.print(table)
    rules = Table(title="pages by rule")
    rules.add_column("rule")
    rules.add_column("pages")
    for rule, n in list(r["pages_by_rule"].items())[:12]:
        rules.add_row(rule, str(n))
    console.print(rules)
    console.print(f"run time {r['elapsed_s']:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=30)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--speed", type=float, default=1000.0, help="simulated s per s")
    parser.add_argument("--wifi-drops", type=float, default=4.0, help="per device-day")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="one day: a smoke check")
    parser.add_argument("--keep", action="store_true", help="keep the scratch data dir")
    args = parser.parse_args()
    # Stopped from outside, still tear the scratch stack down (the `finally` in `measure`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.days = 1
    settings = scratch_settings("carewatch-bench-alarm-")
    r = measure(args, settings)
    name = "alarm_burden-quick" if args.quick else "alarm_burden"
    code = finish(name, r, settings, keep=args.keep, show=print_results, say=console.print)
    if not all(r["verdict"].values()):
        console.print("[red]verdict:[/] targets missed")
        return 1
    console.print("[green]verdict:[/] every target met")
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (CareWatchError, RuntimeError, TimeoutError) as exc:
        console.print(f"[red]alarm burden benchmark failed:[/] {exc}")
        sys.exit(1)
