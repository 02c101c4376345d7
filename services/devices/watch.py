"""The I/O side of `carewatch device check`: find the device, watch its topics on the broker as
an observer (the admin account, which may subscribe to device data), and feed each message to
the pure check in `services.devices.check`.

The MQTT callback only turns a message into an `Observed` and queues it; the loop that judges
and prints runs in the calling thread, so Ctrl-C ends it with a summary.
"""

from __future__ import annotations

import asyncio
import queue
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.reasoncodes import ReasonCode
from psycopg import AsyncConnection

from rules.vocabulary import Stream, is_valid_id
from services.devices import repo
from services.devices.check import (
    DEFAULT_MAX_SKEW,
    EXPECTED_STREAMS,
    CheckState,
    Observed,
    Summary,
    Target,
    format_summary,
    format_verdict,
    observe,
    summarize,
)
from services.devices.provisioning import DeviceError
from services.errors import BrokerAdminError, CareWatchError
from services.operations.broker.acl import device_publish_pattern
from services.operations.broker.dynsec import connect_client
from services.settings import MqttEndpoint, Settings, database_url, mqtt_admin_endpoint

POLL_S = 0.5  # how often the loop looks at the clock while no message comes


class MessageSource(Protocol):
    def next(self, timeout: float) -> Observed | None: ...


class _Lost:
    """Queued by the callback when the broker connection drops: the run cannot go on."""

    def __init__(self, reason: ReasonCode) -> None:
        self.reason = reason


class DeviceWatch:
    """`with DeviceWatch(endpoint, device_id) as watch: watch.next(timeout)`: a subscription to
    everything published under the device's id, in any site (so `topic_mismatch` shows too)."""

    def __init__(self, endpoint: MqttEndpoint, device_id: str, *, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.pattern = device_publish_pattern(device_id)
        self.timeout = timeout
        self._inbox: queue.Queue[Observed | _Lost] = queue.Queue()
        self._client: mqtt.Client | None = None

    def __enter__(self) -> DeviceWatch:
        # A fresh client id and a clean session: nothing is left on the broker afterwards.
        client = connect_client(
            self.endpoint, f"carewatch-check-{secrets.token_hex(4)}", timeout=self.timeout
        )
        self._client = client
        client.on_message = self._on_message
        client.on_disconnect = lambda _c, _u, _f, reason, _p: self._inbox.put(_Lost(reason))
        granted: queue.Queue[list[ReasonCode]] = queue.Queue()
        client.on_subscribe = lambda _c, _u, _mid, codes, _p: granted.put(codes)
        client.subscribe(self.pattern, qos=1)
        try:
            codes = granted.get(timeout=self.timeout)
        except queue.Empty:
            self.__exit__(None, None, None)
            raise BrokerAdminError("the broker did not confirm the subscription") from None
        if any(code.is_failure for code in codes):
            self.__exit__(None, None, None)
            raise BrokerAdminError(
                f"the broker refused {self.endpoint.username!r} a subscription to {self.pattern}:"
                f" {codes[0]}"
            )
        return self

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._inbox.put(
            Observed(msg.topic, bytes(msg.payload), datetime.now(UTC), retained=bool(msg.retain))
        )

    def next(self, timeout: float) -> Observed | None:
        """The next message, or None after `timeout` seconds without one."""
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(item, _Lost):
            raise BrokerAdminError(f"lost the broker connection: {item.reason}")
        return item

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.on_disconnect = None  # leaving on purpose is not a lost connection
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


async def find_target(
    db_url: str, device_id: str, *, expect: frozenset[Stream] | None, max_skew: timedelta
) -> tuple[Target, repo.DeviceRow | None]:
    async with await AsyncConnection.connect(db_url, autocommit=True) as conn:
        row = await repo.get_device(conn, device_id=device_id)
    if expect is None:
        expect = EXPECTED_STREAMS.get(row.kind, frozenset()) if row is not None else frozenset()
    site = None if row is None else row.site_id
    return Target(device_id, site, expect, max_skew), row


def watch(
    source: MessageSource,
    target: Target,
    *,
    duration_s: float | None,
    emit: Callable[[str], None],
    clock: Callable[[], float] = time.monotonic,
) -> Summary:
    """Judge and print each message until `duration_s` passes (None: until Ctrl-C)."""
    state = CheckState()
    started = clock()
    try:
        while duration_s is None or clock() - started < duration_s:
            left = POLL_S if duration_s is None else duration_s - (clock() - started)
            message = source.next(timeout=max(0.0, min(POLL_S, left)))
            if message is not None:
                state, verdict = observe(state, target, message)
                emit(format_verdict(verdict))
    except KeyboardInterrupt:
        pass  # Ctrl-C ends the run early; the summary still counts
    return summarize(state, target, elapsed=timedelta(seconds=clock() - started))


def run_device_check(
    settings: Settings,
    *,
    device_id: str,
    duration_s: float | None,
    expect: frozenset[Stream] | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    strict: bool = False,
    emit: Callable[[str], None] = print,
) -> Summary:
    """The whole command: look the device up, watch, print each verdict and the summary."""
    if not is_valid_id(device_id):
        raise DeviceError("a device id matches [A-Za-z0-9_-]{1,64}", status=422)
    try:
        target, row = asyncio.run(
            find_target(database_url(settings), device_id, expect=expect, max_skew=max_skew)
        )
    except psycopg.OperationalError as exc:
        raise CareWatchError(f"cannot look {device_id} up in the database: {exc}") from None
    if row is None:
        emit(f"warning: {device_id} is not provisioned: all it sends is rejected (unknown_device)")
    elif row.retired_at is not None:
        retired = f"{row.retired_at:%Y-%m-%d %H:%M %Z}"
        emit(f"warning: {device_id} was retired at {retired}: it cannot connect")
    with DeviceWatch(mqtt_admin_endpoint(settings), device_id) as source:
        place = "unknown device" if row is None else f"site {row.site_id}, {row.kind}"
        wanted = ", ".join(sorted(target.expected)) or "nothing in particular"
        length = "until Ctrl-C" if duration_s is None else f"for {duration_s:g}s"
        emit(f"watching {source.pattern} ({place}; expecting {wanted}) {length}")
        summary = watch(source, target, duration_s=duration_s, emit=emit)
    for line in format_summary(summary, strict=strict):
        emit(line)
    return summary
