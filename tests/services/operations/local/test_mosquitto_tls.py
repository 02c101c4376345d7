"""The embedded broker's TLS listener: a device that trusts the deployment's CA publishes over
mqtts and its reading is stored (provisioning and the ingest worker also over TLS, as with an
external broker); a client without the CA cannot even complete the handshake.

A throwaway CA and server certificate are made with the openssl command, as docs/tls.md does.
The stack here is a broker of its own, beside the session's database.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from device_sim.devices import SimDevice
from device_sim.messages import Message
from device_sim.publisher import DevicePublisher
from ingest.metrics import IngestMetrics
from ingest.worker import IngestWorker, WorkerConfig
from services.devices.provisioning import provision_device
from services.operations.broker.dynsec import DynsecAccounts
from services.operations.local.env import scratch_settings
from services.operations.local.stack import LocalStack
from services.operations.local.system import free_port
from services.settings import (
    LOCAL_MQTT_ADMIN,
    LOCAL_MQTT_INGEST,
    ServiceRole,
    Settings,
    database_url,
    mqtt_admin_endpoint,
    mqtt_ingest_endpoint,
    read_secrets,
)
from tests.support import count, wait_for

pytestmark = pytest.mark.services


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_certs(where: Path) -> Certs:
    """A private CA (EC P-256: quick to make) and a server certificate for 127.0.0.1."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=CareWatch test CA", cwd=where)  # fmt: skip
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
            cwd=where)  # fmt: skip
    (where / "server.ext").write_text(
        "subjectAltName = DNS:localhost, IP:127.0.0.1\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\n"
    )
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "server.ext",
            cwd=where)  # fmt: skip
    return Certs(where / "ca.crt", where / "server.crt", where / "server.key")


@pytest.fixture(scope="module")
def tls_stack(
    db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, Certs]]:
    certs = make_certs(tmp_path_factory.mktemp("tls"))
    stack_settings = scratch_settings("carewatch-tls-").model_copy(
        update={
            "database_url": SecretStr(db_url),  # the session's database; a broker of its own
            "mqtt_tls_port": free_port(),
            "mqtt_tls_cert": certs.cert,
            "mqtt_tls_key": certs.key,
        }
    )
    stack = LocalStack(stack_settings)
    stack.start()
    try:
        yield stack_settings, certs
    finally:
        stack.stop()


def over_tls(stack: Settings, certs: Certs, role_url: str) -> Settings:
    """What a process elsewhere is given: mqtts:// URLs and the CA file, its own DB role."""
    secrets = read_secrets(stack.data_dir)
    where = f"127.0.0.1:{stack.mqtt_tls_port}"
    ingest_pw, admin_pw = secrets["mqtt_ingest_password"], secrets["mqtt_admin_password"]
    return stack.model_copy(
        update={
            "mqtt_url": SecretStr(f"mqtts://{LOCAL_MQTT_INGEST}:{quote(ingest_pw)}@{where}"),
            "mqtt_admin_url": SecretStr(f"mqtts://{LOCAL_MQTT_ADMIN}:{quote(admin_pw)}@{where}"),
            "mqtt_ca_file": certs.ca,
            "ingest_database_url": SecretStr(role_url),
        }
    )


def test_a_device_trusting_the_ca_publishes_over_tls_and_is_stored(
    tls_stack: tuple[Settings, Certs],
    db_url: str,
    ward: str,
    role_db_url: Callable[[ServiceRole], str],
) -> None:
    stack, certs = tls_stack
    remote = over_tls(stack, certs, role_db_url("ingest"))
    ingest_endpoint = mqtt_ingest_endpoint(remote)
    assert ingest_endpoint.tls and ingest_endpoint.ca_file == str(certs.ca)

    async def provision() -> str:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            issued = await provision_device(
                conn,
                DynsecAccounts(mqtt_admin_endpoint(remote)),  # provisioning over TLS too
                device_id=device_id,
                site_id=ward,
                kind="wearable",
            )
            return issued.password

    device_id = f"tls-{uuid.uuid4().hex[:10]}"
    password = asyncio.run(provision())

    worker = IngestWorker(
        WorkerConfig(client_id=f"tls-ingest-{uuid.uuid4().hex[:6]}", flush_s=0.05),
        mqtt_endpoint=ingest_endpoint,
        database_url=database_url(remote, "ingest"),
        metrics=IngestMetrics(CollectorRegistry()),
    )
    running = threading.Thread(target=worker.run, daemon=True)
    running.start()
    try:
        assert worker.consumer.subscribed.wait(15), "the ingest worker did not subscribe"
        device = SimDevice(device_id, ward, "wearable", password, resident_key="tls")
        topic = f"carewatch/v1/{ward}/{device_id}/vitals"
        body = json.dumps({"ts": int(time.time() * 1000), "hr": 71}).encode()
        with DevicePublisher(
            device, host="127.0.0.1", port=stack.mqtt_tls_port, tls=True, ca_file=str(certs.ca)
        ) as publisher:
            publisher.publish(Message("vitals", topic, body))
        with psycopg.connect(db_url, autocommit=True) as db:
            wait_for(
                lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device_id),
                until=lambda n: n == 1,
                timeout=15,
                what="the reading sent over TLS",
            )
    finally:
        worker.stop()
        running.join(timeout=15)
    assert not running.is_alive()


def test_a_client_without_the_ca_is_refused(tls_stack: tuple[Settings, Certs]) -> None:
    stack, certs = tls_stack
    # It trusts only the system's CAs: the handshake fails before any MQTT (or password) is
    # sent. (A raw socket: paho leaves the socket of a failed handshake open.)
    with (
        socket.create_connection(("127.0.0.1", stack.mqtt_tls_port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    # The same with the CA gets through, so it was the CA that made the difference.
    with socket.create_connection(("127.0.0.1", stack.mqtt_tls_port), timeout=10) as raw:
        context = ssl.create_default_context(cafile=certs.ca)
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
