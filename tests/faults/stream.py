"""The fault suite's devices: every wearable streams calm vitals at a fixed rate on its own QoS 1
connection (the simulator's `DevicePublisher`), and remembers each message it handed over with
paho's handle, so "published" means exactly the messages the broker acknowledged (PUBACK),
including those paho resent over a new connection after the broker came back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from device_sim.devices import SimDevice
from device_sim.messages import Stream as StreamName
from device_sim.messages import reading_message
from device_sim.physiology import Vitals
from device_sim.publisher import DevicePublisher

VITALS_METRICS = ("hr", "spo2", "rr", "temp", "sbp", "dbp", "on_o2")  # one row each
ReadingKey = tuple[str, str, int]  # (device_id, metric, ts in epoch ms)


@dataclass(frozen=True, slots=True)
class Sent:
    """One message handed to a device's connection; `info` learns of its PUBACK."""

    device_id: str
    stream: StreamName
    ts_ms: int
    at: float  # time.time() when handed over
    info: mqtt.MQTTMessageInfo

    @property
    def acked(self) -> bool:
        return self.info.is_published()


def calm_vitals(k: int) -> Vitals:
    """Values no rule fires on (NEWS2 0 on every parameter), varying a little."""
    return Vitals(
        hr=68 + k % 9,
        spo2=96 + k % 3,
        rr=14 + k % 5,
        temp=36.6,
        sbp=118 + k % 12,
        dbp=74 + k % 6,
        on_o2=False,
    )


def reading_keys(sent: Iterable[Sent]) -> set[ReadingKey]:
    """The `readings` rows the messages must become: one per vitals field."""
    return {
        (s.device_id, metric, s.ts_ms)
        for s in sent
        if s.stream == "vitals"
        for metric in VITALS_METRICS
    }


class DeviceStream:
    """Calm vitals from every device at `hz` (each at its own phase, so the load is smooth),
    from one thread; `fall(i)` publishes device i's own fall detection at once."""

    def __init__(self, devices: list[SimDevice], *, port: int, hz: float) -> None:
        self.devices = devices
        self.hz = hz
        self.publishers = [DevicePublisher(d, host="127.0.0.1", port=port) for d in devices]
        self.sent: list[Sent] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._last_ts = [0] * len(devices)
        self._seq = [0] * len(devices)
        self._acked_upto = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="device-stream", daemon=True)

    def start(self) -> None:
        for publisher in self.publishers:
            publisher.connect()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for publisher in self.publishers:
            publisher.close(timeout_s=5, announce_offline=False)

    def fall(self, index: int) -> Sent:
        return self._publish(index, "event", {"type": "fall", "confidence": 0.95})

    def count(self) -> int:
        with self._lock:
            return len(self.sent)

    def acked_upto(self) -> int:
        """How many of the first messages the broker has all acknowledged."""
        with self._lock:
            sent = self.sent
            n = self._acked_upto
            while n < len(sent) and sent[n].acked:
                n += 1
            self._acked_upto = n
            return n

    @property
    def rejected(self) -> int:
        return sum(p.rejected for p in self.publishers)

    def _publish(self, index: int, stream: StreamName, fields: Mapping[str, object]) -> Sent:
        device = self.devices[index]
        with self._lock:
            # Unique per device: the same (device, ts) twice would be a duplicate by design.
            ts = max(int(time.time() * 1000), self._last_ts[index] + 1)
            self._last_ts[index] = ts
            self._seq[index] += 1
            message = reading_message(device, stream, fields, seq=self._seq[index], ts_ms=ts)
            # With the broker down paho queues it and resends it on reconnecting (QoS 1).
            info = self.publishers[index].publish_tracked(message)
            sent = Sent(device.device_id, stream, ts, time.time(), info)
            self.sent.append(sent)
            return sent

    def _run(self) -> None:
        n = len(self.devices)
        start = time.monotonic()
        k = 0
        try:
            while True:
                for j in range(n):
                    due = start + (k + j / n) / self.hz
                    if self._stop.wait(max(0.0, due - time.monotonic())):
                        return
                    self._publish(j, "vitals", calm_vitals(k + j))
                k += 1
        except BaseException as exc:  # surfaced by the checks
            self.error = exc
