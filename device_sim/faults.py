"""Device behaviours on the way to the broker (pure): Wi-Fi drops with the backlog sent on
reconnecting, duplicate sends, out-of-order delivery, and malformed messages at a rate.
(Clock drift is the device clock's: `messages.DeviceClock`.)

Each device has its own random stream (seed, device id), so one device's faults never change
another's. Everything a fault does is recorded as a `fault` label.
"""

from __future__ import annotations

import json
import math
import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from device_sim.labels import Labels
from device_sim.malformed import (
    EXPECTED_REASON,
    MALFORMED_KINDS,
    SOURCE_STREAMS,
    MalformedKind,
    malform,
)
from device_sim.messages import Delivery, DeliveryKind, Message

DROP_S: Final = (20.0, 900.0)  # a Wi-Fi drop lasts from seconds to a quarter of an hour
BUFFER_MAX: Final = 10_000  # messages a device keeps while offline; the oldest go first
LATE_BY: Final = (1, 3)  # a late or repeated message comes after this many later ones


@dataclass(frozen=True, slots=True)
class Faults:
    """How often each behaviour happens. Rates are per message unless said otherwise;
    duplicates and out-of-order apply to every message but the retained `status`."""

    wifi_drops_per_day: float = 0.0  # per device
    clock_drift_ppm: float = 0.0  # standard deviation of each device's drift
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    malformed_rate: float = 0.0  # per reading: a malformed copy follows it
    malformed_kinds: tuple[MalformedKind, ...] = MALFORMED_KINDS

    def __post_init__(self) -> None:
        for name in ("wifi_drops_per_day", "clock_drift_ppm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.clock_drift_ppm > 1000:
            raise ValueError("clock_drift_ppm above 1000 is not a clock")
        for name in ("duplicate_rate", "reorder_rate", "malformed_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value}")
        if not self.malformed_kinds:
            raise ValueError("malformed_kinds is empty")
        unknown = set(self.malformed_kinds) - set(MALFORMED_KINDS)
        if unknown:
            raise ValueError(f"unknown malformed kinds: {', '.join(sorted(unknown))}")

    @property
    def on_the_way(self) -> bool:
        """Whether anything happens between a device producing a message and sending it."""
        return bool(
            self.wifi_drops_per_day
            or self.duplicate_rate
            or self.reorder_rate
            or self.malformed_rate
        )


NO_FAULTS: Final = Faults()


class DeviceFaults:
    """One device's connection and send queue. `feed` each message it produces, in order;
    `finish` at the end. Both return what goes to the broker, at the offset fed."""

    def __init__(
        self, device_id: str, faults: Faults, *, seed: int, start: datetime, labels: Labels
    ) -> None:
        self.device_id = device_id
        self.faults = faults
        self.start = start
        self.labels = labels
        self.lost = 0  # dropped from a full buffer
        self.unsent = 0  # still buffered when the run ended
        # A str seed is hashed with SHA-512: the same stream in every process and version.
        self._rng = random.Random(f"faults:{seed}:{device_id}")
        self._pending: list[tuple[int, Message, DeliveryKind]] = []
        self._buffer: deque[tuple[Message, DeliveryKind, str]] = deque()
        self._status: Message | None = None  # the latest status, kept while offline
        self._drop: tuple[float, float] | None = None
        self._drop_lost = 0
        self._drop_superseded = 0
        self._drop_rate_s = faults.wifi_drops_per_day / 86400.0
        self._next_drop = self._gap(0.0)

    def feed(self, offset_s: float, message: Message) -> list[Delivery]:
        out: list[Delivery] = []
        faults, rng = self.faults, self._rng
        if self._drop_rate_s:
            self._network(offset_s, out)
        # Not the retained status: a late one would overwrite a newer one at the broker, and
        # it is sent again every minute anyway.
        reading = message.stream != "status"
        if reading and faults.reorder_rate and rng.random() < faults.reorder_rate:
            late_by = rng.randint(*LATE_BY)
            self._label("out_of_order", message, offset_s, after=late_by)
            hold: tuple[int, Message, DeliveryKind] | None = (late_by, message, "late")
        else:
            hold = None
            self._send(offset_s, message, "data", "", out)
        if (
            faults.malformed_rate
            and message.stream in SOURCE_STREAMS
            and rng.random() < faults.malformed_rate
        ):
            kind = rng.choice(faults.malformed_kinds)
            bad = malform(kind, message, rng)
            self._label(
                "malformed",
                message,
                offset_s,
                malformed=kind,
                reason=EXPECTED_REASON[kind],
                topic=bad.topic,
            )
            self._send(offset_s, bad, "malformed", kind, out)
        if self._pending and hold is None:
            # Counted in messages that went ahead, so late always means overtaken.
            self._count_down(offset_s, out)
        if hold is not None:
            self._pending.append(hold)
        if reading and faults.duplicate_rate and rng.random() < faults.duplicate_rate:
            again = rng.randint(*LATE_BY)
            self._label("duplicate", message, offset_s, after=again)
            self._pending.append((again, message, "duplicate"))
        return out

    def finish(self, offset_s: float) -> list[Delivery]:
        """The run is over: what was held back goes now, unless the device is offline."""
        out: list[Delivery] = []
        for _, message, kind in self._pending:
            self._send(offset_s, message, kind, "", out)
        self._pending.clear()
        if self._drop is not None:
            self.unsent = len(self._buffer) + (self._status is not None)
            start, end = self._drop
            self.labels.add(
                "fault",
                "wifi_drop",
                device=self.device_id,
                start=self._at(start),
                end=self._at(end),
                reconnected_at=None,
                backfilled=0,
                statuses_superseded=self._drop_superseded,
                lost=self._drop_lost,
                unsent=self.unsent,
            )
        return out

    # --- the connection ------------------------------------------------------------------

    def _gap(self, after_s: float) -> float:
        if not self._drop_rate_s:
            return math.inf
        return after_s + self._rng.expovariate(self._drop_rate_s)

    def _network(self, offset_s: float, out: list[Delivery]) -> None:
        if self._drop is not None and offset_s >= self._drop[1]:
            self._reconnect(offset_s, out)
        while self._drop is None and offset_s >= self._next_drop:
            low, high = (math.log(x) for x in DROP_S)
            start = self._next_drop
            end = start + math.exp(self._rng.uniform(low, high))
            self._next_drop = self._gap(end)
            if end > offset_s:  # else it came and went while the device had nothing to send
                self._drop = (start, end)
                self._drop_lost = self._drop_superseded = 0

    def _reconnect(self, offset_s: float, out: list[Delivery]) -> None:
        assert self._drop is not None
        # The current state first, then the backlog in the order it was produced, with the
        # times it was measured at.
        backlog = len(self._buffer) + (self._status is not None)
        if self._status is not None:
            out.append(Delivery(offset_s, self.device_id, self._status, "backfill"))
            self._status = None
        while self._buffer:
            message, kind, detail = self._buffer.popleft()
            shown: DeliveryKind = "backfill" if kind == "data" else kind
            out.append(Delivery(offset_s, self.device_id, message, shown, detail))
        start, end = self._drop
        self.labels.add(
            "fault",
            "wifi_drop",
            device=self.device_id,
            start=self._at(start),
            end=self._at(end),
            reconnected_at=self._at(offset_s),
            backfilled=backlog,
            statuses_superseded=self._drop_superseded,
            lost=self._drop_lost,
        )
        self._drop = None

    def _send(
        self,
        offset_s: float,
        message: Message,
        kind: DeliveryKind,
        detail: str,
        out: list[Delivery],
    ) -> None:
        if self._drop is None:
            out.append(Delivery(offset_s, self.device_id, message, kind, detail))
        elif message.stream == "status":
            # Housekeeping is not backfilled: only the latest state counts.
            self._drop_superseded += self._status is not None
            self._status = message
        else:
            self._buffer.append((message, kind, detail))
            if len(self._buffer) > BUFFER_MAX:
                self._buffer.popleft()
                self.lost += 1
                self._drop_lost += 1

    def _count_down(self, offset_s: float, out: list[Delivery]) -> None:
        waiting: list[tuple[int, Message, DeliveryKind]] = []
        for left, message, kind in self._pending:
            if left <= 1:
                self._send(offset_s, message, kind, "", out)
            else:
                waiting.append((left - 1, message, kind))
        self._pending = waiting

    # --- labels --------------------------------------------------------------------------

    def _at(self, offset_s: float) -> datetime:
        return self.start + timedelta(seconds=offset_s)

    def _label(self, kind: str, message: Message, offset_s: float, **fields: object) -> None:
        body = json.loads(message.payload)
        self.labels.add(
            "fault",
            kind,
            device=self.device_id,
            stream=message.stream,
            seq=body.get("seq"),
            ts=body.get("ts"),
            at=self._at(offset_s),
            **fields,
        )
