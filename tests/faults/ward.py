"""The fault suite's running ward: a stack of its own (PostgreSQL + TimescaleDB and Mosquitto,
which the tests stop), the ingest worker, the detector, the alert service and the API as
supervised child processes, a stream of wearables, falls on demand, the caregiver's receiver,
and the accounting each fault ends with (`settle`): what it counts, and what each check
means, is in accounting.py.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from device_sim.devices import SimDevice
from services.alerts.links import LinkSigner
from services.operations.local.env import scratch_settings, service_env
from services.operations.local.stack import LocalStack
from services.settings import Settings, admin_token, database_url
from tests.faults.accounting import (
    CAREGIVER,
    SITE,
    Fall,
    Page,
    Report,
    Window,
    care_team,
    parse_pages,
)
from tests.faults.stream import DeviceStream, ReadingKey, Sent, reading_keys
from tests.faults.supervised import Service, Supervisor, scrape
from tests.receivers import HttpReceiver, Received
from tests.support import wait_for

UNIT = "f1"
DEVICES = 20  # one wearable per resident; each fall takes a resident of its own
# The ward's grace after a last will (the default is 2 minutes): short, so a test can wait it
# out and show that devices back within it page nobody.
OFFLINE_GRACE_S = 10
HZ = 2.0  # vitals per second per device: 40 messages, 280 readings a second in all
# The ingest worker's inbox (CAREWATCH_INGEST_QUEUE_MAX), small here so that a database
# outage fills it within seconds and the broker's persistent session holds the rest.
INBOX_MAX = 200
# The alert service's gauges that must be back at 0 (it refreshes them every 5 s).
UNSETTLED_GAUGES = ("carewatch_alert_incidents_undelivered", "carewatch_notifications_pending")


def ingest_ready(metrics: dict[str, float]) -> bool:
    """Subscribed, and able to write: subscribed alone stays 1 while the database is away."""
    return (
        metrics.get("carewatch_ingest_subscribed") == 1.0
        and metrics.get("carewatch_ingest_database_up") == 1.0
    )


class Ward:
    def __init__(self) -> None:
        self.settings: Settings = scratch_settings("carewatch-faults-")
        self.data_dir = Path(self.settings.data_dir)
        self.stack = LocalStack(self.settings)
        self.receiver = HttpReceiver()
        self.signer: LinkSigner | None = None  # keyed with the secret the stack creates
        self.residents: list[tuple[int, str]] = []
        self.devices: list[SimDevice] = []
        self.stream: DeviceStream | None = None
        self.next_fall = 0
        env = service_env(self.settings)
        env["CAREWATCH_INGEST_QUEUE_MAX"] = str(INBOX_MAX)
        log_dir = self.data_dir / "log"
        s = self.settings
        self.services = {
            "ingest": Service(
                "ingest",
                env=env,
                log_dir=log_dir,
                ready=lambda: ingest_ready(scrape(s.ingest_metrics_port)),
            ),
            "detect": Service(
                "detect",
                env=env,
                log_dir=log_dir,
                ready=lambda: (
                    scrape(s.detector_metrics_port).get("carewatch_detector_subscribed") == 1.0
                ),
            ),
            "alerts": Service(
                "alerts",
                env=env,
                log_dir=log_dir,
                ready=lambda: scrape(s.alerts_metrics_port).get("carewatch_alerts_ready") == 1.0,
            ),
            "api": Service("api", env=env, log_dir=log_dir, ready=lambda: self.readyz()[0] == 200),
        }
        self.supervisor = Supervisor(list(self.services.values()))

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        began = time.monotonic()
        self.stack.start()
        self.signer = LinkSigner(admin_token(self.settings), ttl_s=self.settings.ack_link_ttl_s)
        self.receiver.up()
        with self.db() as conn:
            conn.execute(
                "INSERT INTO sites (site_id, name, rule_overrides) VALUES (%s, 'Fault ward', %s)",
                [SITE, Jsonb({"devices": {"offline_grace_s": OFFLINE_GRACE_S}})],
            )
            conn.execute("INSERT INTO units VALUES (%s, %s, 'Fault unit')", [SITE, UNIT])
            for i in range(DEVICES):
                name = f"Fault Resident {i + 1:02d}"
                row = conn.execute(
                    "INSERT INTO residents (site_id, unit_id, display_name, room, bed)"
                    " VALUES (%s, %s, %s, %s, '1') RETURNING resident_id",
                    [SITE, UNIT, name, str(100 + i)],
                ).fetchone()
                assert row is not None
                self.residents.append((int(row[0]), name))
        self.services["api"].start()
        self.api("PUT", "/api/v1/care-team", care_team(self.receiver))
        for i, (resident_id, _) in enumerate(self.residents):
            device_id = f"flt-w{i:02d}"
            status, body = self.api(
                "POST", "/api/v1/devices", {"device_id": device_id, "site_id": SITE}
            )
            assert status == 201, body
            status, body2 = self.api(
                "PUT",
                f"/api/v1/devices/{device_id}/resident",
                {"resident_id": resident_id, "at": "2000-01-01T00:00:00Z"},
            )
            assert status == 204, body2
            password = body["mqtt"]["password"]
            self.devices.append(SimDevice(device_id, SITE, "wearable", password, str(i)))
        for name in ("ingest", "detect", "alerts"):
            self.services[name].start()
        self.supervisor.start()
        self.stream = DeviceStream(self.devices, port=self.settings.mqtt_port, hz=HZ)
        self.stream.start()
        wait_for(self.readings_count, until=lambda n: n > 0, timeout=60, what="first readings")
        print(
            f"\nfault ward up in {time.monotonic() - began:.1f} s: {DEVICES} wearables at "
            f"{HZ:g} Hz, data in {self.data_dir}",
            flush=True,
        )

    def close(self) -> None:
        """Everything stopped, whatever state a test left it in; the scratch dir removed."""
        try:
            if self.stream is not None:
                self.stream.stop()
            self.supervisor.stop()
            for service in self.services.values():
                service.stop()
            self.receiver.down()
        finally:
            self.stack.stop()
            if os.environ.get("CAREWATCH_FAULTS_KEEP"):  # to read the services' logs
                print(f"kept {self.data_dir}")
            else:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    # --- I/O helpers ------------------------------------------------------------------------

    @contextmanager
    def db(self) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """A fresh connection each time: the database may have restarted since the last."""
        with psycopg.connect(database_url(self.settings), autocommit=True) as conn:
            yield conn

    def api(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.settings.api_port}{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {admin_token(self.settings)}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http only)
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, raw.decode(errors="replace")

    def readyz(self) -> tuple[int, Any]:
        try:
            return self.api("GET", "/readyz")
        except OSError as exc:
            return 0, str(exc)

    def readings_count(self) -> int:
        try:
            with self.db() as conn:
                row = conn.execute("SELECT count(*) FROM readings").fetchone()
        except psycopg.OperationalError:
            return -1
        return int(row[0]) if row else 0

    @property
    def devices_stream(self) -> DeviceStream:
        assert self.stream is not None, "the ward is not started"
        return self.stream

    # --- faults -----------------------------------------------------------------------------

    def begin(
        self,
        label: str,
        *,
        may_exit: frozenset[str] = frozenset(),
        may_alert: frozenset[str] = frozenset(),
    ) -> Window:
        print(f"\n{label}", flush=True)
        return Window(
            label,
            self.devices_stream.count(),
            time.monotonic(),
            {name: len(s.crashes) for name, s in self.services.items()},
            may_exit,
            may_alert,
        )

    def fall(self, window: Window) -> Fall:
        """A device-reported fall of the next resident who has not fallen yet."""
        index = self.next_fall
        assert index < DEVICES, "no resident left to fall: raise DEVICES"
        self.next_fall += 1
        resident_id, name = self.residents[index]
        fall = Fall(resident_id, name, self.devices_stream.fall(index))
        window.falls.append(fall)
        window.note(f"fall of {name} (resident {resident_id}, {fall.sent.device_id})")
        return fall

    def stream_for(self, seconds: float) -> None:
        """Let the stream run on (a real wait: the fault lasts this long)."""
        end = time.monotonic() + seconds
        wait_for(time.monotonic, until=lambda t: t >= end, timeout=seconds + 5, every=0.2)

    # --- accounting -------------------------------------------------------------------------

    def ingest_marks(self) -> tuple[int, dict[str, float], int]:
        """(pid, metrics, broker disconnects logged) of the ingest worker, to compare later."""
        service = self.services["ingest"]
        log = service.child.log_path.read_text(errors="replace")
        return (
            service.child.pid,
            scrape(self.settings.ingest_metrics_port),
            log.count("disconnected from the broker"),
        )

    def ingest_since(self, marks: tuple[int, dict[str, float], int]) -> str:
        """What the ingest worker went through since `ingest_marks()`."""
        pid, before, dropped = marks
        now_pid, after, now_dropped = self.ingest_marks()

        def grew(name: str) -> int:
            return round(after.get(name, 0.0) - before.get(name, 0.0))

        same = "the same process throughout" if now_pid == pid else "RESTARTED"
        return (
            f"ingest worker: {same}; batch writes failed and retried "
            f"{grew('carewatch_ingest_write_failures_total')}; dropped by the broker "
            f"{now_dropped - dropped}x; rows found already stored (redelivered) "
            f"{grew('carewatch_ingest_rows_duplicate_total')}"
        )

    def pages(self) -> list[Page]:
        assert self.signer is not None, "the ward is not started"
        return parse_pages(self.receiver.items, self.signer.verify)

    def fall_alerts(self, conn: psycopg.Connection[tuple[Any, ...]], fall: Fall) -> list[int]:
        rows = conn.execute(
            "SELECT alert_id FROM alerts WHERE dedupe_key = %s ORDER BY alert_id",
            [f"fall:resident:{fall.resident_id}"],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def settle(self, window: Window, *, deliver_within: float = 60.0) -> Report:
        """Wait (bounded) for the ward to catch up after the fault, then count. Timeouts
        become problems in the report rather than exceptions, so the summary is complete."""
        report = Report(window.label, window.injected)
        stream = self.devices_stream
        settle_began = time.monotonic()

        def attempt(what: str, step: Callable[[], object]) -> None:
            try:
                step()
            except (AssertionError, psycopg.Error, OSError) as exc:
                report.problems.append(f"{what}: {exc}"[:2000])

        cutoff = stream.count()
        attempt(
            "broker acknowledgements",
            lambda: wait_for(
                stream.acked_upto,
                until=lambda n: n >= cutoff,
                timeout=60,
                what=f"PUBACK for the first {cutoff} messages",
                every=0.2,
            ),
        )
        sent = stream.sent[:cutoff]
        acked = [s for s in sent if s.acked]
        in_window = sent[window.first :]
        expected = reading_keys(acked)
        stored: Counter[ReadingKey] = Counter()

        def catch_up() -> int:
            stored.clear()
            stored.update(self._reading_rows())
            return len(expected - stored.keys())

        attempt(
            "readings stored",
            lambda: wait_for(
                catch_up, until=lambda n: n == 0, timeout=120, what="readings missing", every=1.0
            ),
        )
        published_now = reading_keys(stream.sent[: stream.count()])
        missing = expected - stored.keys()
        twice = {k for k, c in stored.items() if c > 1}
        unknown = stored.keys() - published_now
        window_keys = reading_keys(s for s in in_window if s.acked)
        report.counted.append(
            f"published in this window: {len(in_window)} messages "
            f"({sum(s.stream == 'vitals' for s in in_window)} vitals = {len(window_keys)} "
            f"readings), {sum(s.acked for s in in_window)} acknowledged by the broker; "
            f"rejected by the broker (whole run): {stream.rejected}"
        )
        report.counted.append(
            f"stored: {len(window_keys & stored.keys())} of the window's {len(window_keys)} "
            f"readings; whole run {len(expected & stored.keys())}/{len(expected)} published "
            f"readings stored, missing {len(missing)}, stored more than once {len(twice)}, "
            f"stored but never published {len(unknown)}"
        )
        if len(acked) != len(sent):
            report.problems.append(f"{len(sent) - len(acked)} messages never acknowledged")
        if missing:
            report.problems.append(f"{len(missing)} readings lost, e.g. {sorted(missing)[:3]}")
        if twice:
            report.problems.append(f"{len(twice)} readings stored twice, e.g. {sorted(twice)[:3]}")
        if unknown:
            report.problems.append(f"{len(unknown)} rows never published: {sorted(unknown)[:3]}")
        if stream.error is not None:
            report.problems.append(f"the device stream failed: {stream.error!r}")
        attempt("falls", lambda: self._check_falls(window, acked, deliver_within, report))
        attempt("notifications", lambda: self._check_notifications(report))
        attempt("alerts", lambda: self._count_alerts(window, report))
        attempt("health", lambda: self._check_health(window, report))
        report.counted.append(f"settled in {time.monotonic() - settle_began:.1f} s")
        return report

    def _reading_rows(self) -> Counter[ReadingKey]:
        try:
            with self.db() as conn:
                rows = conn.execute(
                    "SELECT device_id, metric, (extract(epoch FROM ts) * 1000)::bigint, count(*)"
                    " FROM readings GROUP BY 1, 2, 3"
                ).fetchall()
        except psycopg.OperationalError:
            return Counter()
        return Counter({(str(d), str(m), int(t)): int(n) for d, m, t, n in rows})

    def _check_falls(
        self, window: Window, acked: list[Sent], deliver_within: float, report: Report
    ) -> None:
        def paged() -> list[str]:
            """Falls of this window not yet paged to the caregiver."""
            alert_ids = {p.alert_id for p in self.pages() if p.staff_id == CAREGIVER}
            with self.db() as conn:
                return [
                    f.name for f in window.falls if not set(self.fall_alerts(conn, f)) & alert_ids
                ]

        try:
            wait_for(
                paged,
                until=lambda left: not left,
                timeout=deliver_within,
                what="a page for every fall",
                every=0.5,
            )
        except AssertionError as exc:
            report.problems.append(str(exc))
        events = self._fall_events()
        published_falls = Counter((s.device_id, s.ts_ms) for s in acked if s.stream == "event")
        if events != published_falls:
            report.problems.append(
                f"fall events stored {dict(events)} != published {dict(published_falls)}"
            )
        pages = self.pages()
        with self.db() as conn:
            for fall in window.falls:
                alert_ids = self.fall_alerts(conn, fall)
                mine = [
                    p
                    for p in pages
                    if p.alert_id in alert_ids
                    and p.staff_id == CAREGIVER
                    and p.step == 1
                    and not p.reminder
                ]
                latency = f"{mine[0].at - fall.sent.at:.1f} s" if mine else "never"
                status, body = self.api("GET", f"/api/v1/alerts?resident={fall.resident_id}")
                items = body.get("items", []) if isinstance(body, dict) else []
                items = [i for i in items if str(i.get("rule_id", "")).startswith("fall.")]
                shown = [(i.get("status"), i.get("delivered_at") is not None) for i in items]
                report.counted.append(
                    f"fall of {fall.name}: event stored "
                    f"{events.get((fall.sent.device_id, fall.sent.ts_ms), 0)}x, alerts "
                    f"{alert_ids}, pages to {CAREGIVER} at step 1: {len(mine)} (first "
                    f"{latency} after publish); API: {status} {shown}"
                )
                if len(alert_ids) != 1:
                    report.problems.append(f"fall of {fall.name}: {len(alert_ids)} alerts")
                if len(mine) != 1:
                    report.problems.append(f"fall of {fall.name}: {len(mine)} pages")
                if status != 200 or len(items) != 1 or not shown[0][1]:
                    report.problems.append(
                        f"fall of {fall.name}: the API shows {status} {shown}, not one "
                        "delivered fall alert"
                    )

    def _fall_events(self) -> Counter[tuple[str, int]]:
        with self.db() as conn:
            rows = conn.execute(
                "SELECT device_id, (extract(epoch FROM ts) * 1000)::bigint, count(*)"
                " FROM device_events WHERE type = 'fall' GROUP BY 1, 2"
            ).fetchall()
        return Counter({(str(d), int(t)): int(n) for d, t, n in rows})

    def _count_alerts(self, window: Window, report: Report) -> None:
        """Every alert the window opened, by rule (what else the fault set off)."""
        with self.db() as conn:
            rows = conn.execute(
                "SELECT rule_id, count(*) FROM alerts WHERE opened_at >= to_timestamp(%s)"
                " GROUP BY 1 ORDER BY 1",
                [window.began_at],
            ).fetchall()
        report.counted.append(
            "alerts opened in this window: "
            + (", ".join(f"{rule} {n}" for rule, n in rows) or "none")
        )
        # The calm stream sets off nothing by itself: anything but the falls came from the fault.
        unexpected = {rule: n for rule, n in rows if rule != "fall.device"}
        unexpected = {r: n for r, n in unexpected.items() if r not in window.may_alert}
        if unexpected:
            report.problems.append(f"alerts the fault should not cause: {unexpected}")

    def _check_notifications(self, report: Report) -> None:
        def delivered() -> int:
            with self.db() as conn:
                row = conn.execute(
                    "SELECT count(*) FROM notifications WHERE status = 'delivered'"
                ).fetchone()
            return int(row[0]) if row else -1

        try:  # the row is marked just after the receiver answered: let both settle
            wait_for(
                lambda: (len(self.receiver.items), delivered()),
                until=lambda pair: pair[0] == pair[1],
                timeout=15,
                what="receiver count == outbox rows delivered",
                every=0.2,
            )
        except AssertionError as exc:
            report.problems.append(str(exc))
        items: list[Received] = self.receiver.items
        nonces = Counter(p.nonce for p in self.pages())
        repeated = [nonce for nonce, n in nonces.items() if n > 1]
        per_step = Counter((p.alert_id, p.staff_id, p.step) for p in self.pages() if not p.reminder)
        paged_twice = [k for k, n in per_step.items() if n > 1]
        with self.db() as conn:
            rows = conn.execute(
                "SELECT notification_id FROM delivery_attempts WHERE ok"
                " GROUP BY 1 HAVING count(*) > 1"
            ).fetchall()
            failed = conn.execute("SELECT count(*) FROM delivery_attempts WHERE NOT ok").fetchone()
        report.counted.append(
            f"notifications (whole run): receiver got {len(items)} ({len(self.pages())} pages), "
            f"outbox delivered {delivered()}, failed attempts {failed[0] if failed else '?'}; "
            f"pages received twice {len(repeated)}, rows delivered twice {len(rows)}, "
            f"paged twice for the same step {len(paged_twice)}"
        )
        if repeated:
            report.problems.append(f"pages received twice (nonces): {repeated}")
        if rows:
            report.problems.append(f"outbox rows delivered twice: {[r[0] for r in rows]}")
        if paged_twice:
            report.problems.append(f"(alert, person, step) paged twice: {paged_twice}")

    def _check_health(self, window: Window, report: Report) -> None:
        s = self.settings

        def unhealthy() -> list[str]:
            bad = [name for name, service in self.services.items() if not service.healthy()]
            alerts = scrape(s.alerts_metrics_port)
            for gauge in UNSETTLED_GAUGES:
                if alerts.get(gauge, -1.0) != 0.0:
                    bad.append(f"{gauge}={alerts.get(gauge)}")
            return bad

        try:
            wait_for(unhealthy, until=lambda bad: not bad, timeout=60, what="healthy", every=0.5)
        except AssertionError as exc:
            report.problems.append(str(exc))
        status, body = self.readyz()
        report.counted.append(
            "health: "
            + ", ".join(
                f"{name} {'ready' if service.healthy() else 'NOT ready'}"
                for name, service in self.services.items()
            )
            + f"; /readyz {status} {body}"
        )
        crashes = {
            name: service.crashes[window.crashes_before[name] :]
            for name, service in self.services.items()
        }
        crashed = {name: c for name, c in crashes.items() if c}
        report.counted.append(
            "unplanned exits (restarted by the supervisor after 2 s): "
            + (", ".join(f"{n} {len(c)}x" for n, c in crashed.items()) or "none")
        )
        for name, c in crashed.items():  # the first exit's log tail says why
            report.counted.append(f"  {name}: " + c[0].replace("\n", "\n      "))
        unexpected = sorted(set(crashed) - window.may_exit)
        if unexpected:
            report.problems.append(f"services exited unasked: {unexpected}")
