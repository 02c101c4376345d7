"""Consume the device stream from the broker with a persistent MQTT 5 session and manual
acknowledgements: the adapter both the ingest worker and the detector stand on.

The paho callback only turns a message into an `Inbound` and queues it. The owner acks a
message after it has durably done its work; what is never acked the broker delivers again.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.inbox import Inbox
from ingest.pipeline import Inbound
from rules.vocabulary import DATA_FILTER

log = logging.getLogger("carewatch.mqtt")

SESSION_EXPIRY_S = 14 * 24 * 3600  # the broker keeps our queue this long while we are away


class BrokerEndpoint(Protocol):
    """Where and as whom to connect (read-only: a frozen settings object is one). The
    deployment's settings (`services.settings.MqttEndpoint`) provide it; ingest only reads it."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def tls(self) -> bool: ...
    @property
    def ca_file(self) -> str | None: ...


class SessionConsumer:
    def __init__(
        self,
        endpoint: BrokerEndpoint,
        *,
        client_id: str,
        topic_filter: str | Sequence[str] = DATA_FILTER,  # several: one SUBSCRIBE for all
        queue_max: int = 50_000,
        receive_maximum: int = 20_000,  # messages the broker may have in flight to us
        queue_max_bytes: int | None = None,  # also full at this many bytes (ingest.inbox)
        max_payload_bytes: int | None = None,  # keep only the head of larger payloads
        # See the retain flag of live messages too (MQTT 5 Retain As Published): the ingest
        # worker refuses retained ones outside `status` and clears them.
        retain_as_published: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.client_id = client_id
        self.topic_filters = (
            (topic_filter,) if isinstance(topic_filter, str) else tuple(topic_filter)
        )
        self.receive_maximum = receive_maximum
        self.max_payload_bytes = max_payload_bytes
        self.retain_as_published = retain_as_published
        self.inbox: queue.Queue[Inbound] = (
            queue.Queue(maxsize=queue_max)
            if queue_max_bytes is None
            else Inbox(queue_max, queue_max_bytes)
        )
        self.subscribed = threading.Event()  # messages flow only once this is set
        self.stopping = threading.Event()
        self.connection = 0  # counts connections; paho's callbacks all run on one thread
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls:  # the deployment's own CA when given, else the system's
            self.client.tls_set_context(ssl.create_default_context(cafile=endpoint.ca_file))
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = self.receive_maximum
        self.client.connect_async(
            self.endpoint.host,
            self.endpoint.port,
            keepalive=30,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.stopping.set()
        self.client.disconnect()
        self.client.loop_stop()

    def clear_retained(self, topics: set[str]) -> None:
        """Delete the broker's retained message on each topic (an empty retained publish)."""
        for topic in sorted(topics):
            self.client.publish(topic, b"", qos=1, retain=True)

    def ack(self, items: list[Inbound]) -> None:
        """Acknowledge messages whose work is durably done."""
        current = self.connection
        for item in items:
            # A message from an earlier connection is redelivered by the broker anyway, and
            # its mid may by now name another message: acknowledging it could lose that one.
            if item.connection == current:
                self.client.ack(item.mid, 1)

    # --- paho callbacks (the network thread) ---------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused %s: %s", self.client_id, reason)
            return
        self.connection += 1
        log.info("%s connected (session present: %s)", self.client_id, flags.session_present)
        # Retained messages (each device's last status, or its last will) only with a new
        # subscription: replayed on every reconnection, a will without `ts` would be stamped
        # anew each time and read as the device going offline again (tests/faults).
        options = SubscribeOptions(
            qos=1,
            retainAsPublished=self.retain_as_published,
            retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB,
        )
        client.subscribe([(topic, options) for topic in self.topic_filters])

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _props: Properties | None,
    ) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("broker refused the subscription to %s: %s", self.topic_filters, reasons)
            return
        self.subscribed.set()

    def _on_disconnect(self, *_args: object) -> None:
        self.subscribed.clear()
        if not self.stopping.is_set():
            log.warning("%s disconnected from the broker; reconnecting", self.client_id)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        # Only convert and enqueue. A full inbox blocks this thread, which pushes back on
        # the broker; the broker keeps the rest in our persistent session.
        self.inbox.put(
            Inbound.received(
                msg.topic,
                bytes(msg.payload),
                datetime.now(UTC),
                mid=msg.mid,
                connection=self.connection,
                max_payload_bytes=self.max_payload_bytes,
                retained=bool(msg.retain),
            )
        )
