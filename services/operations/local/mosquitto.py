"""Embedded Mosquitto under `<data_dir>/mosquitto`: password auth and per-device ACLs through
the dynamic-security plugin, persistence on, loopback only."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from services.errors import BrokerAdminError, ConfigError, SetupError
from services.operations.broker.acl import initial_config, upgrade_config
from services.operations.broker.dynsec import connect_client
from services.operations.local.process import ChildProcess
from services.operations.local.system import FIX_SETUP, RunAs, ensure_port_free, find_binary
from services.settings import MqttEndpoint

DYNSEC_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)

# The broker's default of 1,000 queued messages per client would drop readings silently
# while the ingest worker is down; these limits let its persistent session hold a backlog.
BROKER_CONF = """\
# Written by CareWatch at each start; edit settings through CAREWATCH_* variables instead.
per_listener_settings false
allow_anonymous false
listener {port} {host}
persistence true
persistence_location {state_dir}/
autosave_interval 60
max_queued_messages 2000000
max_queued_bytes 0
max_inflight_messages 1000
max_packet_size 1048576
persistent_client_expiration 14d
plugin {plugin}
plugin_opt_config_file {dynsec_file}
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages false
"""

# Appended when a TLS listener is configured: same accounts and ACLs (per_listener_settings
# false), TLS 1.2 at least; a client without the deployment's CA cannot complete the handshake.
TLS_LISTENER_CONF = """\
listener {port} {host}
certfile {cert}
keyfile {key}
tls_version tlsv1.2
"""


@dataclass(frozen=True, slots=True)
class TlsListener:
    host: str
    port: int
    cert: Path  # PEM: the server certificate, then any intermediates
    key: Path  # PEM, unencrypted (the broker starts unattended)


def dynsec_plugin() -> Path:
    for pattern in DYNSEC_GLOBS:
        matches = sorted(Path("/").glob(pattern.lstrip("/")))
        if matches:
            return matches[-1]
    raise SetupError(f"Mosquitto's dynamic-security plugin not found: {FIX_SETUP}")


class EmbeddedMosquitto:
    def __init__(
        self,
        data_dir: Path,
        *,
        host: str,
        port: int,
        admin: MqttEndpoint,
        ingest: MqttEndpoint,
        tls: TlsListener | None = None,
    ) -> None:
        self.root = data_dir.resolve() / "mosquitto"
        self.host = host
        self.port = port
        self.tls = tls
        self.admin = admin
        self.ingest = ingest
        self.run_as = RunAs.for_server("mosquitto")
        self.child: ChildProcess | None = None

    @property
    def dynsec_file(self) -> Path:
        return self.root / "dynamic-security.json"

    def init(self) -> None:
        """Create the state dir and the plugin's first config; existing state is kept, its
        accounts and roles brought up to this release's rules (`upgrade_config`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.dynsec_file.exists():
            self._upgrade_dynsec()
        else:
            config = initial_config(
                admin_user=self.admin.username,
                admin_password=self.admin.password,
                ingest_user=self.ingest.username,
                ingest_password=self.ingest.password,
            )
            fd = os.open(self.dynsec_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(config, out, indent=1)
        conf = BROKER_CONF.format(
            host=self.host,
            port=self.port,
            state_dir=self.root,
            plugin=dynsec_plugin(),
            dynsec_file=self.dynsec_file,
        )
        if self.tls is not None:
            conf += self._tls_conf(self.tls)
        (self.root / "mosquitto.conf").write_text(conf)
        os.chmod(self.root, 0o700)
        self.run_as.own(self.root)

    def _upgrade_dynsec(self) -> None:
        """Rewrite the stopped broker's config if an older release wrote it (the plugin reads
        it only at start): staged beside it with mode 0600, then renamed over it."""
        try:
            config = json.loads(self.dynsec_file.read_text())
        except ValueError:
            raise SetupError(
                f"{self.dynsec_file} is not valid JSON: restore it from a backup"
            ) from None
        if not upgrade_config(config):
            return
        staged = self.dynsec_file.with_name(f".{self.dynsec_file.name}.{os.getpid()}")
        staged.unlink(missing_ok=True)
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(config, out, indent=1)
        os.replace(staged, self.dynsec_file)

    def _tls_conf(self, tls: TlsListener) -> str:
        """Copy the certificate and key in (the broker may run as `mosquitto`, which cannot
        read an operator's files; a renewed certificate is taken at the next start)."""
        tls_dir = self.root / "tls"
        tls_dir.mkdir(mode=0o700, exist_ok=True)
        copies = {"server.crt": tls.cert, "server.key": tls.key}
        for name, source in copies.items():
            if not source.is_file():
                raise ConfigError(
                    f"the MQTT TLS listener needs {source}: set CAREWATCH_MQTT_TLS_CERT and "
                    "CAREWATCH_MQTT_TLS_KEY to PEM files (docs/tls.md)"
                )
            target = tls_dir / name
            target.unlink(missing_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out)
        return TLS_LISTENER_CONF.format(
            host=tls.host, port=tls.port, cert=tls_dir / "server.crt", key=tls_dir / "server.key"
        )

    def start(self, timeout: float = 30.0) -> None:
        binary = find_binary("mosquitto", search=("/usr/sbin/mosquitto",))
        ensure_port_free(self.host, self.port, what="Mosquitto", env_var="CAREWATCH_MQTT_PORT")
        if self.tls is not None:
            ensure_port_free(
                self.tls.host,
                self.tls.port,
                what="Mosquitto's TLS listener",
                env_var="CAREWATCH_MQTT_TLS_PORT",
            )
        self.child = ChildProcess(
            "mosquitto",
            [str(binary), "-c", str(self.root / "mosquitto.conf")],
            log_path=self.root.parent / "log" / "mosquitto.log",
            run_as=self.run_as,
        )
        self.child.start()
        self.child.wait_until(self._accepts_admin, timeout=timeout, what="accepting logins")

    def _accepts_admin(self) -> bool:
        try:
            client = connect_client(self.admin, "carewatch-probe", timeout=2)
        except BrokerAdminError:
            return False
        client.disconnect()
        client.loop_stop()
        return True

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=30)
