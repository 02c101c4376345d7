"""The presence spans the ingest worker keeps (pure): extended, started anew after a gap,
ended by an offline status, and written at most once a minute while they grow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.presence import PresenceBook

T0 = datetime(2026, 11, 2, tzinfo=UTC)
AFTER = timedelta(minutes=5)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_messages_within_offline_after_extend_one_span_written_once_a_minute() -> None:
    book = PresenceBook(AFTER)
    book.heard("d1", at(0))
    assert book.take() == [("d1", at(0), at(0), False)]  # a new span: written at once
    for s in range(1, 60):
        book.heard("d1", at(s))
    assert book.take() == []  # extended by less than a minute: nothing to write
    book.heard("d1", at(60))
    assert book.take() == [("d1", at(0), at(60), False)]
    book.heard("d1", at(60 + 300))  # exactly OFFLINE_AFTER later: still the same span
    assert book.take() == [("d1", at(0), at(360), False)]


def test_a_longer_gap_starts_a_new_span_and_writes_the_old_ones_last_minute() -> None:
    book = PresenceBook(AFTER)
    book.heard("d1", at(0))
    book.take()
    book.heard("d1", at(30))
    assert book.take() == []
    book.heard("d1", at(30 + 301))
    assert book.take() == [
        ("d1", at(0), at(30), False),  # its last 30 s, not written while it grew
        ("d1", at(331), at(331), False),
    ]


def test_an_offline_status_ends_the_span_and_the_next_message_starts_one() -> None:
    book = PresenceBook(AFTER)
    book.heard("d1", at(0))
    book.heard("d1", at(10), down=True)
    assert book.take() == [("d1", at(0), at(10), True)]
    book.heard("d1", at(20), down=True)  # offline already: nothing starts or moves
    assert book.take() == []
    book.heard("d1", at(30))
    assert book.take() == [("d1", at(30), at(30), False)]


def test_an_offline_status_after_the_span_lapsed_changes_nothing() -> None:
    book = PresenceBook(AFTER)
    book.heard("d1", at(0))
    book.take()
    book.heard("d1", at(600), down=True)
    assert book.take() == []


def test_devices_have_spans_of_their_own() -> None:
    book = PresenceBook(AFTER)
    book.heard("d1", at(0))
    book.heard("d2", at(1), down=True)
    book.heard("d2", at(2))
    assert book.take() == [("d1", at(0), at(0), False), ("d2", at(2), at(2), False)]


def test_a_sweep_writes_what_grew_and_forgets_spans_over() -> None:
    book = PresenceBook(AFTER)
    book.heard("d1", at(0))
    book.heard("d2", at(0))
    book.take()
    book.heard("d1", at(40))
    assert book.sweep(at(50)) == [("d1", at(0), at(40), False)]
    assert book.sweep(at(60)) == []  # stored as it stands
    assert set(book.current) == {"d1", "d2"}
    assert book.sweep(at(302)) == []
    assert set(book.current) == {"d1"}  # d2 lapsed (heard at 0) and was stored
    book.heard("d2", at(400))  # a new span, as without the forgotten one
    assert book.take() == [("d2", at(400), at(400), False)]


def test_a_resumed_span_goes_on_and_is_not_written_again_unchanged() -> None:
    book = PresenceBook(AFTER)
    book.resume([("d1", at(0), at(100), False)])
    book.heard("d1", at(130))
    assert book.take() == []  # within a minute of what is stored
    book.heard("d1", at(160))
    assert book.take() == [("d1", at(0), at(160), False)]


def test_a_message_received_out_of_order_does_not_move_the_span_back() -> None:
    book = PresenceBook(AFTER)
    book.heard("d1", at(100))
    book.heard("d1", at(50))
    assert book.take() == [("d1", at(100), at(100), False)]
