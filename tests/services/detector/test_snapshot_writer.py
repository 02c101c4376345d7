"""Snapshots saved beside the batch loop: committed before their messages are acknowledged,
rolled back when the broker dropped the connection they came in on, retried through a
database outage, and never holding up a batch (services/detector/snapshot_writer.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ingest.pipeline import Inbound
from rules.engine import ResidentRules, RulesConfig
from rules.outbreak import OutbreakState
from rules.types import ResidentProfile, Vital
from services.detector.config import DetectorConfig
from services.detector.service import Detector
from services.detector.snapshot_writer import Snapshot, SnapshotWriter
from services.detector.snapshots import resident_snapshot
from services.settings import MqttEndpoint, ServiceRole
from tests.support import Conn

TS = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
WAIT_S = 30


class Consumer:
    """The broker session's part the writer uses; records what was acknowledged, and whether
    the snapshot was already visible to another connection when it was."""

    def __init__(self, connection: int = 1, seen: Callable[[], bool] = lambda: True) -> None:
        self.connection = connection
        self.acked: list[Inbound] = []
        self.committed_first: list[bool] = []
        self.seen = seen

    def ack(self, items: list[Inbound]) -> None:
        self.committed_first.append(self.seen())
        self.acked += items


def inbound(connection: int = 1) -> Inbound:
    return Inbound("carewatch/v1/s/d/vitals", b"{}", TS, mid=7, connection=connection)


def subject() -> str:
    return f"unit:s-{uuid.uuid4().hex}/u"


def saved_doc(db: Conn, name: str) -> Any:
    row = db.execute("SELECT doc FROM detector_snapshots WHERE subject = %s", [name]).fetchone()
    return None if row is None else row[0]


@pytest.fixture
def connect(role_db_url: Callable[[ServiceRole], str]) -> Callable[[], psycopg.Connection[Any]]:
    """As the detector connects: its own role."""
    return lambda: psycopg.connect(role_db_url("detector"), autocommit=True)


def test_a_snapshot_is_committed_before_its_messages_are_acknowledged(
    connect: Callable[[], psycopg.Connection[Any]], db: Conn
) -> None:
    name = subject()
    consumer = Consumer(seen=lambda: saved_doc(db, name) is not None)
    writer = SnapshotWriter(connect, consumer, threading.Event())
    writer.start()
    try:
        message = inbound()
        snap = Snapshot({name: OutbreakState(open=True)}, [message], 1, TS)
        writer.submit(snap)
        assert snap.saved(wait=True)
    finally:
        writer.close()
    assert consumer.acked == [message] and consumer.committed_first == [True]
    assert saved_doc(db, name) is not None


def test_a_snapshot_whose_connection_was_dropped_is_rolled_back_and_not_acknowledged(
    connect: Callable[[], psycopg.Connection[Any]], db: Conn
) -> None:
    """Its messages come again from the broker: committed, they would be replayed onto a
    state that already holds them."""
    name = subject()
    consumer = Consumer(connection=2)
    writer = SnapshotWriter(connect, consumer, threading.Event())
    snap = Snapshot({name: OutbreakState(open=True)}, [inbound(connection=1)], 1, TS)
    writer.submit(snap)  # not started: saved inline
    writer.close()
    assert not snap.saved(wait=False) and snap.outcome == "dropped"
    assert consumer.acked == [] and saved_doc(db, name) is None


def test_a_database_outage_is_waited_out_and_a_stop_during_it_saves_nothing(
    connect: Callable[[], psycopg.Connection[Any]], db: Conn
) -> None:
    tries: list[int] = []
    up: list[bool] = []

    def flaky() -> psycopg.Connection[Any]:
        tries.append(1)
        if len(tries) < 3:
            raise psycopg.OperationalError("the database is away")
        return connect()

    name = subject()
    writer = SnapshotWriter(flaky, Consumer(), threading.Event(), database_up=up.append)
    snap = Snapshot({name: OutbreakState(open=True)}, [inbound()], 1, TS)
    writer.submit(snap)
    writer.close()
    assert snap.outcome == "saved" and up == [False, False, True] and len(tries) == 3

    stopping = threading.Event()
    stopping.set()
    consumer = Consumer()
    writer = SnapshotWriter(flaky_forever, consumer, stopping)
    snap = Snapshot({subject(): OutbreakState(open=True)}, [inbound()], 1, TS)
    writer.submit(snap)
    assert snap.outcome == "unsaved" and consumer.acked == []


def flaky_forever() -> psycopg.Connection[Any]:
    raise psycopg.OperationalError("the database is away")


def test_a_state_that_cannot_be_saved_stops_the_detector(
    connect: Callable[[], psycopg.Connection[Any]],
) -> None:
    writer = SnapshotWriter(connect, Consumer(), threading.Event())
    snap = Snapshot({subject(): "not an outbreak state"}, [inbound()], 1, TS)
    writer.submit(snap)
    writer.close()
    with pytest.raises(ValueError, match="OutbreakState"):
        snap.saved(wait=False)


def test_a_snapshot_holds_the_state_at_its_cut_while_the_rules_go_on() -> None:
    rules = ResidentRules(ResidentProfile(1, "s", "u"), RulesConfig())
    rules.latest["hr"] = Vital(TS, "hr", 70.0, "vitals")
    cut = resident_snapshot(rules)
    rules.latest["hr"] = Vital(TS + timedelta(seconds=1), "hr", 140.0, "vitals")
    rules.devices.clear()
    assert cut["latest"]["hr"].value == 70.0


def test_a_batch_is_not_held_up_by_a_snapshot_being_saved(
    connect: Callable[[], psycopg.Connection[Any]], db: Conn
) -> None:
    """The point of the writer: a fall in the next batch is written while the last snapshot
    is still being saved (before, the batch loop saved it and the fall waited)."""
    release = threading.Event()

    def slow() -> psycopg.Connection[Any]:
        assert release.wait(WAIT_S)
        return connect()

    endpoint = MqttEndpoint("127.0.0.1", 1, "nobody", "unused")
    d = Detector(DetectorConfig(), mqtt_endpoint=endpoint, database_url="postgresql://")
    d.consumer.connection = 1
    d.writer = SnapshotWriter(slow, Consumer(), d.stopping)
    d.writer.start()
    try:
        d.snapshot_due = float("-inf")
        d._process([inbound()], tick=False)  # hands the snapshot over: the writer waits
        assert d.saving is not None and not d.saving.done.is_set()
        batch = threading.Thread(target=d._process, args=([inbound()],), kwargs={"tick": False})
        batch.start()
        batch.join(WAIT_S)
        assert not batch.is_alive(), "the next batch waited for the snapshot"
        assert len(d.unacked) == 1 and d.saving is not None
        release.set()
        saving = d.saving
        d._collect_saved(wait=True)
        assert d.saving is None and saving.outcome == "saved"
    finally:
        release.set()
        d.writer.close()
