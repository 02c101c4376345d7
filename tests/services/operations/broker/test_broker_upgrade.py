"""A data dir made by a release before client-id binding is upgraded when the broker starts
(`carewatch up`): its devices are bound to their ids and receiving is denied by default, against
a real Mosquitto of the test's own."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.operations.broker.acl import (
    ADMIN_ROLE,
    INGEST_ROLE,
    device_role,
    device_role_acls,
    hashed_client,
)
from services.operations.local.mosquitto import EmbeddedMosquitto
from services.operations.local.system import free_port
from services.settings import MqttEndpoint
from tests.support import Device

DEVICE, DEVICE_PASSWORD = "old-wrist-1", "old-device-password"


def old_release_config(admin: MqttEndpoint, ingest: MqttEndpoint) -> dict[str, Any]:
    """The dynamic-security file as the previous release wrote it, with one device added."""
    control, data = "$CONTROL/dynamic-security/#", "carewatch/v1/#"
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [
            hashed_client(admin.username, admin.password, [ADMIN_ROLE]),
            hashed_client(ingest.username, ingest.password, [INGEST_ROLE]),
            hashed_client(DEVICE, DEVICE_PASSWORD, [device_role(DEVICE)]),
        ],
        "groups": [],
        "roles": [
            {
                "rolename": ADMIN_ROLE,
                "acls": [
                    {"acltype": "publishClientSend", "topic": control, "allow": True},
                    {"acltype": "publishClientReceive", "topic": control, "allow": True},
                    {"acltype": "subscribePattern", "topic": control, "allow": True},
                    {"acltype": "subscribePattern", "topic": data, "allow": True},
                    {"acltype": "subscribePattern", "topic": "$SYS/#", "allow": True},
                ],
            },
            {
                "rolename": INGEST_ROLE,
                "acls": [
                    {"acltype": "subscribePattern", "topic": data, "allow": True},
                    {"acltype": "subscribePattern", "topic": f"$share/+/{data}", "allow": True},
                ],
            },
            {"rolename": device_role(DEVICE), "acls": device_role_acls(DEVICE)},
        ],
    }


@pytest.fixture
def old_broker() -> Iterator[EmbeddedMosquitto]:
    data_dir = Path(tempfile.mkdtemp(prefix="carewatch-upgrade-", dir="/tmp"))
    data_dir.chmod(0o755)  # the broker may run as `mosquitto`: it must reach its dir
    port = free_port()
    admin = MqttEndpoint("127.0.0.1", port, "carewatch-admin", "admin-pw-upgrade")
    ingest = MqttEndpoint("127.0.0.1", port, "carewatch-ingest", "ingest-pw-upgrade")
    broker = EmbeddedMosquitto(data_dir, host="127.0.0.1", port=port, admin=admin, ingest=ingest)
    broker.root.mkdir(parents=True)
    broker.dynsec_file.write_text(json.dumps(old_release_config(admin, ingest)))
    broker.dynsec_file.chmod(0o600)
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def connect(broker: EmbeddedMosquitto, client_id: str) -> bool:
    device = Device("127.0.0.1", broker.port, DEVICE, DEVICE_PASSWORD, client_id=client_id)
    try:
        return not device.connect_result.is_failure
    finally:
        device.close()


def test_starting_binds_old_devices_and_denies_receiving(old_broker: EmbeddedMosquitto) -> None:
    old_broker.init()
    old_broker.start()
    assert connect(old_broker, DEVICE)  # the device itself still gets in
    assert not connect(old_broker, "carewatch-ingest")  # but not as the ingest worker
    assert not connect(old_broker, "carewatch-detector")
    config = json.loads(old_broker.dynsec_file.read_text())
    assert config["defaultACLAccess"]["publishClientReceive"] is False
    (device,) = [c for c in config["clients"] if c["username"] == DEVICE]
    assert device["clientid"] == DEVICE
    assert oct(old_broker.dynsec_file.stat().st_mode & 0o777) == "0o600"
