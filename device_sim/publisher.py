"""One simulated device's MQTT connection: its own credentials, a last will, capped QoS 1.

paho reuses 16-bit message ids; with an unbounded burst of QoS 1 publishes an id can come
round while its first message still waits for PUBACK, and paho then drops the new message.
So at most `max_inflight` messages per client are ever unacknowledged: `publish` blocks when
the cap is reached and fails clearly if the broker stops acknowledging.
"""

from __future__ import annotations

import logging
import ssl
import threading
from types import TracebackType
from typing import Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from device_sim.devices import SimDevice
from device_sim.errors import AckTimeout, BrokerRefused, BrokerUnreachable, SimulatorError
from device_sim.messages import Message, will_message

log = logging.getLogger("carewatch.sim")

DEFAULT_MAX_INFLIGHT: Final = 1000
DEFAULT_ACK_TIMEOUT_S: Final = 30.0
QOS: Final = 1
# Publish accepted by paho: sent now, or queued and sent once the connection is back.
_QUEUED: Final = (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN)


class DevicePublisher:
    """`with DevicePublisher(device, host=..., port=...) as pub: pub.publish(message)`.

    Thread-safe for one publishing thread; paho's network thread runs the callbacks.
    """

    def __init__(
        self,
        device: SimDevice,
        *,
        host: str,
        port: int,
        tls: bool = False,
        ca_file: str | None = None,
        max_inflight: int = DEFAULT_MAX_INFLIGHT,
        ack_timeout_s: float = DEFAULT_ACK_TIMEOUT_S,
        connect_timeout_s: float = 10.0,
        keepalive_s: int = 30,
    ) -> None:
        if not 1 <= max_inflight <= 65535:
            raise ValueError("max_inflight must be in 1..65535 (paho's message ids are 16-bit)")
        if ack_timeout_s <= 0 or connect_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        self.device = device
        self.host = host
        self.port = port
        self.max_inflight = max_inflight
        self.ack_timeout_s = ack_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.keepalive_s = keepalive_s

        self._cond = threading.Condition()
        self._inflight = 0
        self._acked = 0
        self._rejected = 0
        self._connack: ReasonCode | None = None
        self._closed_before_connack: ReasonCode | None = None
        self._connected_once = False
        self._reconnected = False
        self._fatal: SimulatorError | None = None
        self._closing = False
        self._started = False

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=device.device_id, protocol=mqtt.MQTTv5
        )
        client.username_pw_set(device.device_id, device.password)
        will = will_message(device)
        client.will_set(will.topic, will.payload, qos=QOS, retain=will.retain)
        if tls:
            client.tls_set_context(ssl.create_default_context(cafile=ca_file))
        # Our own cap (`publish` blocks at max_inflight unacked) already bounds paho's queue,
        # so paho's limit is off: with it on, paho rescans its queue on every PUBACK, which
        # cut the rate from ~13k to ~8k messages/s. Keep max_inflight at or below the
        # broker's receive maximum (Mosquitto's max_inflight_messages).
        client.max_inflight_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_timeout = connect_timeout_s
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client

    def __repr__(self) -> str:
        return f"DevicePublisher({self.device.device_id}@{self.host}:{self.port})"

    # --- lifecycle ------------------------------------------------------------------------

    def connect(self) -> None:
        """Connect and wait for the broker's answer; BrokerRefused / BrokerUnreachable if no."""
        if self._started:
            raise SimulatorError(f"{self!r}: connect() called twice")
        self._started = True
        where = f"{self.host}:{self.port}"
        try:
            self._client.connect(self.host, self.port, keepalive=self.keepalive_s)
        except OSError as exc:  # refused, DNS, timeout, TLS handshake
            self._closing = True
            raise BrokerUnreachable(f"cannot reach an MQTT broker at {where}: {exc}") from exc
        self._client.loop_start()
        with self._cond:
            self._cond.wait_for(
                lambda: self._connack is not None or self._closed_before_connack is not None,
                self.connect_timeout_s,
            )
            reason, closed = self._connack, self._closed_before_connack
        if reason is not None and not reason.is_failure:
            return
        with self._cond:
            self._closing = True
        self._client.loop_stop()
        if reason is not None:
            raise _refused(self.device, where, reason)
        if closed is not None:
            raise BrokerUnreachable(
                f"{where} closed the connection of device {self.device.device_id} before "
                f"answering ({closed}): is it an MQTT broker, and does it expect TLS?"
            )
        raise BrokerUnreachable(
            f"no CONNACK from {where} within {self.connect_timeout_s:g} s for device "
            f"{self.device.device_id}: is it an MQTT broker, and does it expect TLS?"
        )

    def close(self, timeout_s: float = 10.0, *, announce_offline: bool = True) -> int:
        """Wait up to `timeout_s` for outstanding acks, then disconnect.

        With `announce_offline` the broker publishes the last will (`{"online": false}`,
        retained): the simulated device is gone, and a retained `online: true` would say
        otherwise. Returns how many messages were still unacknowledged (0 normally).
        """
        with self._cond:
            if self._closing:
                return self._inflight
            self._closing = True
            if self._started and self._fatal is None:
                self._cond.wait_for(lambda: self._inflight == 0, timeout_s)
            unacked = self._inflight
        if unacked:
            log.warning(
                "%s: %d message(s) still unacknowledged after %g s; disconnecting anyway",
                self.device.device_id,
                unacked,
                timeout_s,
            )
        if self._started:
            reason = ReasonCode(
                PacketTypes.DISCONNECT,
                "Disconnect with will message" if announce_offline else "Normal disconnection",
            )
            # Also when not connected: it tells paho's thread to stop reconnecting.
            self._client.disconnect(reasoncode=reason)
            self._client.loop_stop()
        return unacked

    def __enter__(self) -> DevicePublisher:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- publishing -----------------------------------------------------------------------

    def publish(self, message: Message) -> None:
        """Publish at QoS 1; blocks while `max_inflight` messages await their PUBACK.

        AckTimeout if no slot frees up within `ack_timeout_s`; BrokerRefused if the broker
        refused a reconnection since the last call.
        """
        self.publish_tracked(message)

    def publish_tracked(self, message: Message) -> mqtt.MQTTMessageInfo:
        """`publish`, returning paho's handle: `is_published()` turns true on this message's
        PUBACK (also after paho resent it over a new connection), so a caller can tell
        exactly which messages the broker accepted."""
        with self._cond:
            if self._fatal is not None:
                raise self._fatal
            if self._closing or not self._started:
                raise SimulatorError(f"{self!r} is not open")
            if not self._cond.wait_for(
                lambda: self._inflight < self.max_inflight or self._fatal is not None,
                self.ack_timeout_s,
            ):
                raise AckTimeout(
                    f"device {self.device.device_id}: the broker at {self.host}:{self.port} "
                    f"acknowledged none of its {self._inflight} in-flight messages for "
                    f"{self.ack_timeout_s:g} s (connected: {self._client.is_connected()})"
                )
            if self._fatal is not None:
                raise self._fatal
            # Counted before paho sees it, so an ack that races ahead cannot go negative.
            self._inflight += 1
        info = self._client.publish(message.topic, message.payload, qos=QOS, retain=message.retain)
        if info.rc not in _QUEUED:
            with self._cond:
                self._inflight -= 1
                self._cond.notify_all()
            raise SimulatorError(
                f"device {self.device.device_id}: paho did not take the message for "
                f"{message.topic}: {mqtt.error_string(info.rc)}"
            )
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
            # Queued for the reconnection; paho never updates the handle's rc, and left at
            # NO_CONN its is_published() raises instead of answering, even after the PUBACK.
            info.rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        return info

    @property
    def acked(self) -> int:
        """Messages the broker acknowledged as accepted."""
        with self._cond:
            return self._acked

    @property
    def rejected(self) -> int:
        """Messages the broker acknowledged with a failure (e.g. not authorised by its ACL)."""
        with self._cond:
            return self._rejected

    def take_reconnected(self) -> bool:
        """True once after each reconnection: the retained status then says offline (the
        will fired), so the caller should publish a fresh status."""
        with self._cond:
            reconnected, self._reconnected = self._reconnected, False
            return reconnected

    # --- paho callbacks (network thread) --------------------------------------------------

    def _on_connect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        with self._cond:
            self._connack = reason
            if reason.is_failure:
                if self._connected_once:
                    # Credentials revoked or changed mid-run: the next publish says so.
                    self._fatal = _refused(self.device, f"{self.host}:{self.port}", reason)
            elif self._connected_once:
                self._reconnected = True
                log.info("%s: reconnected", self.device.device_id)
            self._connected_once = self._connected_once or not reason.is_failure
            self._cond.notify_all()

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        with self._cond:
            if self._connack is None:
                self._closed_before_connack = reason
            closing = self._closing or not self._connected_once
            self._cond.notify_all()
        if not closing:
            log.warning("%s: disconnected (%s); paho reconnects", self.device.device_id, reason)

    def _on_publish(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        with self._cond:
            self._inflight -= 1
            if reason.is_failure:
                self._rejected += 1
                first = self._rejected == 1
            else:
                self._acked += 1
                first = False
            self._cond.notify_all()
        if first:
            # Once per device: an ACL that denies every message would otherwise flood the log.
            log.warning("%s: the broker rejected a message: %s", self.device.device_id, reason)


def _refused(device: SimDevice, where: str, reason: ReasonCode) -> BrokerRefused:
    hint = ""
    if reason.getName() in ("Bad user name or password", "Not authorized"):
        hint = " (check the device's password and that it is provisioned on this broker)"
    return BrokerRefused(
        f"the broker at {where} refused device {device.device_id}: {reason}{hint}",
        reason=str(reason),
    )
