"""The time the detector's rule timers run on: the clock when it is caught up, the latest
message time while a backlog waits (else every device in the backlog would look silent)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.pipeline import Inbound
from services.detector.config import DetectorConfig
from services.detector.service import Detector
from services.detector.snapshot_writer import Snapshot
from services.settings import MqttEndpoint

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def detector() -> Detector:
    # Never started: no broker or database is reached.
    endpoint = MqttEndpoint("127.0.0.1", 1, "nobody", "unused")
    return Detector(DetectorConfig(), mqtt_endpoint=endpoint, database_url="postgresql://")


def test_caught_up_the_timers_run_on_the_clock() -> None:
    d = detector()
    assert d._stream_now(NOW) == NOW  # nothing taken in yet
    d.watermark = NOW - timedelta(minutes=10)
    assert d._stream_now(NOW) == NOW  # inbox empty: a silent device is silent


def test_behind_a_backlog_the_timers_run_on_the_latest_message_time() -> None:
    d = detector()
    d.consumer.inbox.put(Inbound("carewatch/v1/s/d/vitals", b"{}", NOW, 1, 1))
    assert d._stream_now(NOW) is None  # just (re)started: no timers before the first message
    d.watermark = NOW - timedelta(minutes=10)
    assert d._stream_now(NOW) == NOW - timedelta(minutes=10)


def message(connection: int) -> Inbound:
    # Not decodable: the detector skips it (the ingest worker dead-letters it), no database.
    return Inbound("carewatch/v1/s/d/vitals", b"not json", NOW, 7, connection)


def test_a_reconnect_goes_back_to_the_last_snapshot() -> None:
    """The broker sends again every message not acknowledged before it dropped us: taken in
    on top of the state that already holds them, a reading would count twice."""
    d = detector()
    rewound: list[int] = []
    d._restore = lambda: rewound.append(len(d.unacked))  # type: ignore[method-assign]
    d.consumer.connection = 1
    first = message(connection=1)
    d._process([first], tick=False)
    assert d.unacked == [first] and rewound == []  # held until the next snapshot

    d.consumer.connection = 2  # dropped and reconnected
    left_over, again = message(connection=1), message(connection=2)
    d._process([left_over, again], tick=False)
    assert rewound == [0]  # state reloaded from the snapshot, nothing held any more
    assert d.unacked == [again]  # the old connection's message is not taken in


def test_a_reconnect_while_a_snapshot_is_saved_goes_back_to_the_last_one_saved() -> None:
    """Its messages were handed to the writer (none held by the loop), but they came in on the
    dropped connection: they come again, so the rules go back to what the database holds."""
    d = detector()
    rewound: list[int] = []
    d._restore = lambda: rewound.append(len(d.unacked))  # type: ignore[method-assign]
    d.consumer.connection = 2
    d.saving = Snapshot({}, [message(connection=1)], 1, NOW, outcome="dropped")
    d.saving.done.set()
    d._process([], tick=False)
    assert rewound == [0] and d.saving is None
