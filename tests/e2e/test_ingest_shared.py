"""Three ingest workers on one MQTT 5 shared subscription (`carewatch ingest --worker N`)
against the real Mosquitto: the stream is split between them, and with one SIGKILLed
mid-stream every reading is still stored exactly once.

What Mosquitto does (docs/scaling.md): it hands each message of a shared subscription to the
group's members in turn, connected or not. A killed worker's persistent session stays a
member, so its share — the messages in flight to it when it died and every third message
published while it is down — waits in that session until the worker reconnects. Restarting
it (systemd's Restart=always) is what delivers them.
"""

from __future__ import annotations

import threading
import time

import psycopg

from services.operations.local.system import free_port
from services.settings import database_url
from tests.conftest import ServiceProcess
from tests.e2e.scratch import add_site, metric, provision, scrape, stop_all
from tests.support import Device, count, own_stack, wait_for

WORKERS = 3
SPLIT = 600  # phase 1: all workers up
CRASH = 2400  # phase 2: one worker killed a third of the way in
TOPIC = "carewatch/v1/share/share-dev/vitals"
RECEIVED = "carewatch_ingest_messages_received_total"


def stored_seqs(db: psycopg.Connection[tuple[int]]) -> set[int]:
    return {int(row[0]) for row in db.execute("SELECT seq FROM readings").fetchall()}


def test_three_workers_split_the_stream_and_a_killed_one_loses_nothing() -> None:
    with own_stack("carewatch-share-") as settings:
        add_site(settings, "share")
        device = Device(
            "127.0.0.1", settings.mqtt_port, "share-dev", provision(settings, "share-dev", "share")
        )
        workers: list[ServiceProcess] = []
        for n in range(1, WORKERS + 1):
            port = free_port()
            args = ["--worker", str(n), "--metrics-port", str(port)]
            workers.append(
                ServiceProcess(settings, "ingest", metrics_port=port, args=args, name=f"ingest-{n}")
            )
        base_ms = int(time.time() * 1000) - (SPLIT + CRASH) * 10

        def publish(seq: int) -> None:  # one reading per message: seq identifies the row
            device.publish(TOPIC, {"ts": base_ms + seq * 10, "seq": seq, "hr": 60 + seq % 40})

        with psycopg.connect(database_url(settings), autocommit=True) as db:
            try:
                for worker in workers:
                    worker.start()  # returns once the broker confirmed its subscription

                # Phase 1: the split. Each worker's own counter, from its own /metrics.
                for seq in range(SPLIT):
                    publish(seq)
                split = wait_for(
                    lambda: [metric(scrape(w.metrics_port), RECEIVED) for w in workers],
                    until=lambda got: sum(got) >= SPLIT,
                    what="every message of phase 1 taken by some worker",
                )
                print(f"split of {SPLIT} messages over {WORKERS} workers: {split}")
                assert all(n > 0 for n in split), split
                assert sum(split) == SPLIT, split  # nobody got a message twice
                assert count(db, "SELECT count(*) FROM readings") == SPLIT

                # Phase 2: SIGKILL worker 2 a third of the way in; keep publishing.
                done = threading.Event()
                sent = [SPLIT]  # messages the broker has acknowledged so far

                def publish_rest() -> None:
                    for seq in range(SPLIT, SPLIT + CRASH):
                        publish(seq)
                        sent[0] = seq + 1
                        time.sleep(0.0005)  # pacing, so the kill lands mid-stream
                    done.set()

                publisher = threading.Thread(target=publish_rest)
                publisher.start()
                wait_for(
                    lambda: count(db, "SELECT count(*) FROM readings"),
                    until=lambda n: n >= SPLIT + CRASH // 3,
                    what="a third of phase 2 stored",
                )
                workers[1].kill()
                sent_at_kill = sent[0]
                assert not done.is_set(), "the stream ended before the kill: nothing was tested"
                publisher.join(60)
                assert done.is_set()

                # The survivors store their share; worker 2's waits in its broker session.
                total = SPLIT + CRASH
                missing = wait_for(
                    lambda: set(range(total)) - stored_seqs(db),
                    until=lambda gone: len({seq % WORKERS for seq in gone}) <= 1,
                    timeout=30,
                    what="the survivors to store their share",
                )
                assert missing, "nothing waited for worker 2: Mosquitto skipped the dead member"
                print(
                    f"worker 2 SIGKILLed after {sent_at_kill} of {total} were published; while "
                    f"it is down {total - len(missing)} are stored; the {len(missing)} missing "
                    f"are all seq ≡ {min(missing) % WORKERS} (mod {WORKERS}): its round-robin "
                    "share, kept in its session (what it held unacknowledged at the kill, and "
                    "every third message since)"
                )
                # Every third message published after the kill was handed to the dead member.
                assert len(missing) >= (total - sent_at_kill) // WORKERS

                workers[1].start()  # Restart=always, in production
                wait_for(
                    lambda: count(db, "SELECT count(*) FROM readings"),
                    until=lambda n: n >= total,
                    timeout=30,
                    what="every reading after worker 2's restart",
                )
            finally:
                device.close()
                stop_all(*workers)  # a failure may leave worker 2 killed
            assert count(db, "SELECT count(*) FROM readings") == total
            assert count(db, "SELECT count(DISTINCT seq) FROM readings") == total
            assert count(db, "SELECT count(*) FROM dead_letters") == 0
        assert "session present: True" in workers[1].child.log_path.read_text()
