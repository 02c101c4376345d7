"""A client for Mosquitto's dynamic-security plugin: add and remove device accounts live.

Commands go to `$CONTROL/dynamic-security/v1` and answers come back on `.../response`;
the broker applies them at once (no restart), and deleting a client disconnects it.
"""

from __future__ import annotations

import json
import queue
import secrets
import ssl
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from services.errors import BrokerAdminError
from services.operations.broker.acl import device_role, device_role_acls
from services.settings import MqttEndpoint

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"


def connect_client(
    endpoint: MqttEndpoint, client_id: str, *, timeout: float = 10.0, **kwargs: Any
) -> mqtt.Client:
    """A connected, looping paho client; raises BrokerAdminError when the broker says no."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **kwargs
    )
    client.username_pw_set(endpoint.username, endpoint.password)
    if endpoint.tls:  # the deployment's own CA when given, else the system's
        client.tls_set_context(ssl.create_default_context(cafile=endpoint.ca_file))
    result: queue.Queue[ReasonCode] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, reason, _p: result.put(reason)
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=30)
    except OSError as exc:
        raise BrokerAdminError(
            f"cannot reach the broker at {endpoint.host}:{endpoint.port}: {exc}"
        ) from exc
    client.loop_start()
    try:
        reason = result.get(timeout=timeout)
    except queue.Empty:
        client.loop_stop()
        raise BrokerAdminError(f"no CONNACK from {endpoint.host}:{endpoint.port}") from None
    if reason.is_failure:
        client.loop_stop()
        raise BrokerAdminError(f"broker refused {endpoint.username!r}: {reason}")
    return client


class DynsecAdmin:
    """`with DynsecAdmin(endpoint) as admin: admin.create_device(...)`."""

    def __init__(self, endpoint: MqttEndpoint, *, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._client: mqtt.Client | None = None

    def __enter__(self) -> DynsecAdmin:
        client = connect_client(
            self.endpoint, f"carewatch-admin-{secrets.token_hex(4)}", timeout=self.timeout
        )
        client.on_message = lambda _c, _u, msg: self._responses.put(json.loads(msg.payload))
        subscribed: queue.Queue[bool] = queue.Queue()
        client.on_subscribe = lambda *_args: subscribed.put(True)
        client.subscribe(RESPONSE_TOPIC, qos=1)
        try:
            subscribed.get(timeout=self.timeout)
        except queue.Empty:
            client.loop_stop()
            raise BrokerAdminError("the broker did not confirm the admin subscription") from None
        self._client = client
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def run(self, commands: list[dict[str, Any]], *, tolerate: tuple[str, ...] = ()) -> None:
        """Send commands in one message; fail on any error not listed in `tolerate`."""
        if self._client is None:
            raise BrokerAdminError("DynsecAdmin used outside its `with` block")
        tag = secrets.token_hex(8)
        tagged = [
            {**command, "correlationData": f"{tag}-{i}"} for i, command in enumerate(commands)
        ]
        self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
        pending = {c["correlationData"] for c in tagged}
        errors: list[str] = []
        while pending:
            try:
                answer = self._responses.get(timeout=self.timeout)
            except queue.Empty:
                raise BrokerAdminError(
                    "the broker did not answer a dynamic-security command"
                ) from None
            for response in answer.get("responses", []):
                if response.get("correlationData") not in pending:
                    continue
                pending.discard(response["correlationData"])
                error = response.get("error")
                if error and not any(t in error for t in tolerate):
                    errors.append(f"{response.get('command')}: {error}")
        if errors:
            raise BrokerAdminError("; ".join(errors))

    def create_device(self, device_id: str, password: str) -> None:
        role = device_role(device_id)
        self.run(
            [
                {"command": "createRole", "rolename": role, "acls": device_role_acls(device_id)},
                {
                    "command": "createClient",
                    "username": device_id,
                    # Bound: the account is refused under any other client id (acl.py).
                    "clientid": device_id,
                    "password": password,
                    "roles": [{"rolename": role}],
                },
            ]
        )

    def delete_device(self, device_id: str) -> None:
        """Remove the account (the broker disconnects it at once) and its role; idempotent."""
        self.run(
            [
                {"command": "deleteClient", "username": device_id},
                {"command": "deleteRole", "rolename": device_role(device_id)},
            ],
            tolerate=("not found",),
        )


class DynsecAccounts:
    """Device accounts at a Mosquitto broker with dynamic security (one connection per call:
    provisioning is rare, and a held admin connection would be one more thing to keep alive)."""

    def __init__(self, endpoint: MqttEndpoint) -> None:
        self.endpoint = endpoint

    def create_device(self, device_id: str, password: str) -> None:
        with DynsecAdmin(self.endpoint) as admin:
            admin.create_device(device_id, password)

    def delete_device(self, device_id: str) -> None:
        with DynsecAdmin(self.endpoint) as admin:
            admin.delete_device(device_id)
