"""When each device was online, kept as spans for the indicators (pure: no I/O, no clock).

A span runs from the first message of a connection episode (`since`) to the last one heard
(`last_heard`): a message within `offline_after` of the last one extends it, one after a
longer gap starts a new span, an offline status (the device's own or its last will) ends it at
that message. A span is online from `since` to `last_heard`, plus `offline_after` unless it
ended: the devices API's definition, message by message (docs/indicators.md).

The worker keeps each device's current span here and stores a span when it starts, ends, or
has been extended by `write_every` since it was last stored: a few rows per device and
episode, at most one write per device and `write_every` (docs/ingest.md, "Presence").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# What is stored of a span: (device_id, since, last_heard, ended).
SpanRow = tuple[str, datetime, datetime, bool]


@dataclass(slots=True)
class Span:
    device_id: str
    since: datetime
    last_heard: datetime
    ended: bool = False
    stored: SpanRow | None = None  # as last written (None: not yet)

    def row(self) -> SpanRow:
        return (self.device_id, self.since, self.last_heard, self.ended)


class PresenceBook:
    """The current span of every device heard lately, and the rows still to write."""

    def __init__(
        self, offline_after: timedelta, write_every: timedelta = timedelta(minutes=1)
    ) -> None:
        self.offline_after = offline_after
        self.write_every = write_every
        self.current: dict[str, Span] = {}
        self.due: dict[tuple[str, datetime], Span] = {}  # to write with the next batch

    def resume(self, rows: list[SpanRow]) -> None:
        """Take up spans as stored (a restarted worker's open ones)."""
        for row in rows:
            span = Span(*row, stored=row)
            held = self.current.get(span.device_id)
            if held is None or held.since < span.since:
                self.current[span.device_id] = span

    def heard(self, device_id: str, at: datetime, *, down: bool = False) -> None:
        """A message from the device received `at`; `down`: an offline status."""
        span = self.current.get(device_id)
        if span is not None and at < span.last_heard:
            at = span.last_heard  # received out of order (a clock step): no going back
        if span is not None and not span.ended and at - span.last_heard <= self.offline_after:
            span.last_heard = at
            span.ended = down
            stored = span.stored
            if down or stored is None or at - stored[2] >= self.write_every:
                self.due[(device_id, span.since)] = span
            return
        if span is not None and span.row() != span.stored:
            self.due[(device_id, span.since)] = span  # its last minute, before it goes
        if down:  # offline, and not online before it: nothing starts
            return
        span = Span(device_id, at, at)
        self.current[device_id] = span
        self.due[(device_id, at)] = span

    def take(self) -> list[SpanRow]:
        """The rows to write now (with the batch of the messages that made them)."""
        rows = [span.row() for span in self.due.values()]
        for span in self.due.values():
            span.stored = span.row()
        self.due.clear()
        return rows

    def sweep(self, now: datetime) -> list[SpanRow]:
        """Every span not stored as it stands (a device gone quiet keeps its last minute here
        otherwise), to write now; spans over and stored are forgotten."""
        for span in self.current.values():
            if span.row() != span.stored:
                self.due[(span.device_id, span.since)] = span
        rows = self.take()
        for device_id, span in list(self.current.items()):
            if span.ended or now - span.last_heard > self.offline_after:
                del self.current[device_id]
        return rows
