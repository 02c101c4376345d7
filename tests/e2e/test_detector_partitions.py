"""Two detector partitions (`carewatch detect --sites ...`) on the live stream: each site's
conditions are raised once, by the partition that owns the site, which the other never sees;
a partition SIGKILLed mid-episode resumes from its snapshots without raising again."""

from __future__ import annotations

import time

import psycopg

from services.operations.local.system import free_port
from services.settings import Settings, database_url
from tests.conftest import ServiceProcess
from tests.e2e.scratch import add_site, metric, provision, scrape, stop_all
from tests.support import Conn, Device, candidates, count, own_stack, wait_for

OBSERVATIONS = "carewatch_detector_observations_total"
RESIDENTS = "carewatch_detector_residents"
SNAPSHOTS = "carewatch_detector_snapshot_seconds_count"
BUSY = "carewatch_detector_busy_seconds_total"


def partition(settings: Settings, site: str) -> ServiceProcess:
    port = free_port()
    args = ["--sites", site, "--metrics-port", str(port)]
    return ServiceProcess(settings, "detect", metrics_port=port, args=args, name=f"detect-{site}")


def resident(db: Conn, site: str) -> int:
    row = db.execute(
        "INSERT INTO residents (site_id, unit_id, display_name) VALUES (%s, 'u1', %s)"
        " RETURNING resident_id",
        [site, f"Resident of {site}"],
    ).fetchone()
    assert row is not None
    return int(row[0])


def raised(port: int, rule_id: str) -> float:
    return metric(
        scrape(port), "carewatch_detector_candidates_total", f'action="raise",rule_id="{rule_id}"'
    )


def test_partitions_own_their_sites_and_resume_from_snapshots() -> None:
    with own_stack("carewatch-parts-") as settings:
        for site in ("pa", "pb"):
            add_site(settings, site)
        with psycopg.connect(database_url(settings), autocommit=True) as db:
            ra, rb = resident(db, "pa"), resident(db, "pb")
            da = Device(
                "127.0.0.1", settings.mqtt_port, "dev-a", provision(settings, "dev-a", "pa", ra)
            )
            dbb = Device(
                "127.0.0.1", settings.mqtt_port, "dev-b", provision(settings, "dev-b", "pb", rb)
            )
            a, b = partition(settings, "pa"), partition(settings, "pb")
            start_ms = int(time.time() * 1000) - 120_000  # a buffered minute and more

            def spo2(second: int, value: int) -> None:
                topic = "carewatch/v1/pa/dev-a/vitals"
                da.publish(topic, {"ts": start_ms + second * 1000, "spo2": value})

            def sos(device: Device, site: str, second: int) -> None:
                topic = f"carewatch/v1/{site}/{device.device_id}/event"
                device.publish(topic, {"ts": start_ms + second * 1000, "type": "sos"})

            try:
                a.start()
                b.start()
                # Site pb: an SOS, raised by partition pb alone.
                sos(dbb, "pb", 0)
                wait_for(
                    lambda: candidates(db, rb),
                    until=lambda c: ("sos", "raise") in c,
                    what="pb's SOS candidate",
                )
                # Site pa: a desaturation episode, 25 s below 90 % (past the 15 s hold).
                for second in range(30):
                    spo2(second, 97 if second < 5 else 86)
                wait_for(
                    lambda: candidates(db, ra),
                    until=lambda c: ("vital.spo2.low", "raise") in c,
                    what="pa's desaturation candidate",
                )
                wait_for(lambda: raised(a.metrics_port, "vital.spo2.low"), until=lambda n: n == 1)
                assert raised(b.metrics_port, "vital.spo2.low") == 0
                wait_for(lambda: raised(b.metrics_port, "sos"), until=lambda n: n == 1)
                assert raised(a.metrics_port, "sos") == 0
                # Neither partition saw the other's site: one resident each, and pb's only
                # observation is its SOS.
                assert metric(scrape(a.metrics_port), RESIDENTS) == 1
                assert metric(scrape(b.metrics_port), RESIDENTS) == 1
                assert metric(scrape(b.metrics_port), OBSERVATIONS) == 1
                assert metric(scrape(a.metrics_port), OBSERVATIONS) == 30

                # Manual observations (rounds) go to the owning partition only.
                db.execute(
                    "INSERT INTO manual_observations (resident_id, metric, value, ts, recorded_by)"
                    " VALUES (%s, 'temp', 36.8, now(), 'test')",
                    [rb],
                )
                wait_for(
                    lambda: metric(scrape(b.metrics_port), OBSERVATIONS),
                    until=lambda n: n == 2,
                    what="pb taking in its resident's manual observation",
                )
                assert metric(scrape(a.metrics_port), OBSERVATIONS) == 30

                # SIGKILL partition pa mid-episode, once its state is saved (every 5 s); it
                # resumes from its snapshots.
                wait_for(
                    lambda: count(
                        db,
                        "SELECT count(*) FROM detector_snapshots WHERE subject = %s",
                        f"resident:{ra}",
                    ),
                    until=lambda n: n == 1,
                    what="pa's snapshot of its resident",
                )
                # Its headroom metrics saw that snapshot and the batches before it.
                wait_for(
                    lambda: metric(scrape(a.metrics_port), SNAPSHOTS),
                    until=lambda n: n >= 1,
                    what="pa's snapshot in its metrics",
                )
                assert metric(scrape(a.metrics_port), BUSY) > 0
                a.kill()
                a.start()
                for second in range(30, 60):
                    spo2(second, 86)  # still low: 30 s more, enough to raise again had it forgotten
                sos(da, "pa", 61)  # processed after the readings
                found = wait_for(
                    lambda: candidates(db, ra),
                    until=lambda c: ("sos", "raise") in c,
                    what="the barrier SOS",
                )
                assert found.count(("vital.spo2.low", "raise")) == 1, found
                assert candidates(db, rb) == [("sos", "raise")]
                assert metric(scrape(a.metrics_port), RESIDENTS) == 1
                assert metric(scrape(b.metrics_port), OBSERVATIONS) == 2  # still nothing of pa's
            finally:
                da.close()
                dbb.close()
                stop_all(a, b)
            cursors = db.execute(
                "SELECT subject FROM detector_snapshots WHERE subject LIKE 'cursor:%%'"
                " ORDER BY subject"
            ).fetchall()
            assert [c[0] for c in cursors] == [
                "cursor:manual:pa",
                "cursor:manual:pb",
                "cursor:staff:pa",
                "cursor:staff:pb",
                "cursor:symptoms:pa",
                "cursor:symptoms:pb",
            ]
            assert (
                count(
                    db, "SELECT count(*) FROM detector_snapshots WHERE subject LIKE 'resident:%%'"
                )
                == 2
            )
        log = a.child.log_path.read_text()
        assert "carewatch-detector-pa connected (session present: True)" in log
        assert "partition pa (sites: pa): resumed 1 residents" in log
