"""The load test's publishers: thousands of simulated devices per process, each on its own MQTT
connection with its own credentials, all driven from one thread through a selector.

One paho network thread per client (`loop_start`, as device_sim's DevicePublisher does) costs
a thread, a socket pair and a 1 s select loop per device; at thousands of clients per process
the threads fight over one GIL and the schedule slips. Here each process owns one epoll
selector over its clients' sockets and calls paho's `loop_read` / `loop_write` / `loop_misc`
itself (bench/load.py's docstring has the measurement).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import selectors
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from bench.alert_stream import normal_vitals
from bench.load_plan import MAX_LAG_S, STATUS_EVERY_S, LoadDevice
from device_sim.messages import (
    Message,
    bed_message,
    event_message,
    status_message,
    vitals_message,
    will_message,
)
from device_sim.status import StatusReading

CONNECT_TIMEOUT_S = 120.0
ACK_WAIT_S = 30.0
KEEPALIVE_S = 60


@dataclass
class StreamCounts:
    """What one publisher process did, per (stream, second of the message's `ts`)."""

    published: Counter[tuple[str, int]] = field(default_factory=Counter)
    acked: Counter[tuple[str, int]] = field(default_factory=Counter)
    on_time: Counter[int] = field(default_factory=Counter)  # second → publishes on schedule
    late: Counter[int] = field(default_factory=Counter)  # second → more than MAX_LAG_S behind
    lag_max: dict[int, float] = field(default_factory=dict)
    rejected: int = 0
    unacked: int = 0
    disconnects: int = 0
    error: str | None = None


class _Conn:
    """One device's connection and its stream state."""

    __slots__ = ("client", "connack", "dev", "last_ts", "pending", "seq")

    def __init__(self, dev: LoadDevice) -> None:
        self.dev = dev
        self.seq = 0
        self.last_ts = 0
        self.connack: ReasonCode | None = None
        self.pending: dict[int, tuple[str, int]] = {}  # mid → (stream, second)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=dev.device.device_id, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(dev.device.device_id, dev.device.password)
        will = will_message(dev.device)
        client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        client.user_data_set(self)
        self.client = client

    def stamp(self, at: float) -> tuple[int, int]:
        ts = max(int(at * 1000), self.last_ts + 1)  # unique per device: never a duplicate
        self.last_ts = ts
        self.seq += 1
        return self.seq, ts


def _on_connect(_c: mqtt.Client, conn: _Conn, _f: Any, reason: ReasonCode, _p: Any) -> None:
    conn.connack = reason


def publish_devices(
    devices: list[LoadDevice],
    port: int,
    connected: Synchronized[int],
    sent: Synchronized[int],
    fall_due: Any,  # multiprocessing Array of float: epoch second, 0 = none (by resident)
    fall_published: Any,  # written here: time.time() just before the fall's publish
    stop: Event,
    out: mp.Queue[StreamCounts],
) -> None:
    """Connect every device, then stream until `stop`: each device once a second at its own
    phase (vitals or bed), its retained status every minute, a fall when one is due."""
    counts = StreamCounts()
    sel = selectors.DefaultSelector()
    conns = [_Conn(d) for d in devices]

    def on_publish(_c: mqtt.Client, conn: _Conn, mid: int, reason: ReasonCode, _p: Any) -> None:
        key = conn.pending.pop(mid, None)
        if key is None:
            return
        if reason.is_failure:
            counts.rejected += 1
        else:
            counts.acked[key] += 1

    def on_disconnect(_c: mqtt.Client, conn: _Conn, _f: Any, _r: Any, _p: Any) -> None:
        if not stop.is_set():
            counts.disconnects += 1

    def register(conn: _Conn) -> None:
        sock = conn.client.socket()
        if sock is None:
            return
        try:
            sel.register(sock, selectors.EVENT_READ, conn)
        except KeyError:  # a reconnected socket got the number of one paho closed unseen
            sel.unregister(sock)
            sel.register(sock, selectors.EVENT_READ, conn)

    def service(timeout: float) -> None:
        for key, mask in sel.select(timeout):
            conn: _Conn = key.data
            rc = MQTTErrorCode.MQTT_ERR_SUCCESS
            if mask & selectors.EVENT_READ:
                rc = conn.client.loop_read()
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mask & selectors.EVENT_WRITE:
                rc = conn.client.loop_write()
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                sel.unregister(key.fileobj)  # paho closed it; reconnected in housekeeping
            elif not conn.client.want_write() and mask & selectors.EVENT_WRITE:
                sel.modify(key.fileobj, selectors.EVENT_READ, conn)

    def send(conn: _Conn, message: Message, second_of: int) -> None:
        info = conn.client.publish(message.topic, message.payload, qos=1, retain=message.retain)
        conn.pending[info.mid] = (message.stream, second_of)
        counts.published[(message.stream, second_of)] += 1
        if conn.client.want_write():  # the socket buffer was full: finish when writable
            sock = conn.client.socket()
            if sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    try:
        for conn in conns:
            conn.client.on_connect = _on_connect
            conn.client.on_publish = on_publish
            conn.client.on_disconnect = on_disconnect
            conn.client.connect("127.0.0.1", port, keepalive=KEEPALIVE_S)
            register(conn)
            service(0)
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while any(c.connack is None for c in conns):
            if time.monotonic() > deadline:
                raise TimeoutError("no CONNACK within the connect timeout")
            service(0.1)
        refused = [c for c in conns if c.connack is not None and c.connack.is_failure]
        if refused:
            raise RuntimeError(
                f"the broker refused {len(refused)} devices, e.g. "
                f"{refused[0].dev.device.device_id}: {refused[0].connack}"
            )
        with connected.get_lock():
            connected.value += len(conns)

        # The slots in phase order; each device's slot repeats every second from `base`.
        order = sorted(conns, key=lambda c: c.dev.phase)
        base = float(int(time.time()) + 1)
        k, pos, n = 0, 0, len(order)
        while not stop.is_set():
            now = time.time()
            done = 0
            while pos < n:
                conn = order[pos]
                due = base + k + conn.dev.phase
                if due > now:
                    break
                now = time.time()
                second = int(due)
                lag = now - due
                if lag > MAX_LAG_S:
                    counts.late[second] += 1
                else:
                    counts.on_time[second] += 1
                if lag > counts.lag_max.get(second, 0.0):
                    counts.lag_max[second] = lag
                dev = conn.dev
                seq, ts = conn.stamp(now)
                if dev.device.kind == "wearable":
                    message = vitals_message(
                        dev.device, normal_vitals(dev.index, k), seq=seq, ts_ms=ts
                    )
                else:
                    message = bed_message(
                        dev.device,
                        {"occupied": True, "movement": 0.1, "hr": 64 + k % 5, "rr": 15},
                        seq=seq,
                        ts_ms=ts,
                    )
                send(conn, message, ts // 1000)
                if (k + dev.index) % STATUS_EVERY_S == 0:
                    seq, ts = conn.stamp(time.time())
                    status = StatusReading(battery=80, online=True, rssi=-60, fw="bench")
                    send(conn, status_message(dev.device, status, seq=seq, ts_ms=ts), ts // 1000)
                if dev.device.kind == "wearable":
                    due_fall = fall_due[dev.index]
                    if due_fall and now >= due_fall and not fall_published[dev.index]:
                        at = time.time()
                        seq, ts = conn.stamp(at)
                        fall_published[dev.index] = at
                        fall = event_message(dev.device, "fall", seq=seq, ts_ms=ts, confidence=0.95)
                        send(conn, fall, ts // 1000)
                pos += 1
                done += 1
            if done:
                with sent.get_lock():
                    sent.value += done
            if pos == n:
                pos, k = 0, k + 1
                if k % 5 == 0:
                    _housekeeping(conns, register)
            service(max(0.0, min(0.05, base + k + order[pos].dev.phase - time.time())))
        # Wait for the last PUBACKs, then leave without the last will.
        deadline = time.monotonic() + ACK_WAIT_S
        while any(c.pending for c in conns) and time.monotonic() < deadline:
            service(0.1)
    except BaseException as exc:
        counts.error = f"{type(exc).__name__}: {exc}"
    finally:
        counts.unacked = sum(len(c.pending) for c in conns)
        for conn in conns:
            try:
                conn.client.disconnect()
                conn.client.loop_write()
            except OSError:
                pass
        out.put(counts)


def _housekeeping(conns: list[_Conn], register: Any) -> None:
    """Keepalive pings, and a reconnect for any connection the broker dropped."""
    for conn in conns:
        rc = conn.client.loop_misc()
        if rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            try:
                conn.client.reconnect()
                register(conn)
            except OSError:
                pass
