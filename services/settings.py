"""One settings object per process, built at start-up from CAREWATCH_* environment variables.

Local mode (the default) keeps PostgreSQL, Mosquitto and their generated secrets under
`data_dir`; setting CAREWATCH_DATABASE_URL / CAREWATCH_MQTT_URL points a process at external
services instead, and then no secret is generated or read from the data dir for that service.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.errors import ConfigError

SECRETS_FILE = "secrets.json"
# What the first release wrote: a file lacking one of these is damaged, not old.
FIRST_SECRET_NAMES = (
    "pg_password",
    "mqtt_admin_password",
    "mqtt_ingest_password",
    "api_admin_token",
)
# The services' database roles (migration 0008), each with the password LocalStack sets on it.
ServiceRole = Literal["ingest", "detector", "alerts", "api"]
SERVICE_ROLES: tuple[ServiceRole, ...] = ("ingest", "detector", "alerts", "api")
ROLE_SECRET_NAMES = tuple(f"pg_{role}_password" for role in SERVICE_ROLES)
SECRET_NAMES = FIRST_SECRET_NAMES + ROLE_SECRET_NAMES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAREWATCH_", extra="ignore")

    data_dir: Path = Path(".carewatch")
    database_url: SecretStr | None = None  # the owner: migrations, admin commands, backups
    # Each service's own role (migration 0008); unset: CAREWATCH_DATABASE_URL, giving up the split.
    ingest_database_url: SecretStr | None = None
    detector_database_url: SecretStr | None = None
    alerts_database_url: SecretStr | None = None
    api_database_url: SecretStr | None = None
    mqtt_url: SecretStr | None = None  # the ingest worker's account, e.g. mqtt://user:pw@host:1883
    mqtt_admin_url: SecretStr | None = None  # an account allowed to use dynamic security
    admin_token: SecretStr | None = None  # bearer token for the admin API until user auth lands
    # Encrypts residents' national ID and insurance numbers (services/records/crypto.py):
    # Fernet key(s), comma-separated, the first encrypting; unset: the data dir's record.key.
    record_key: SecretStr | None = None

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    # The embedded broker's TLS listener for devices (0: none), with its certificate chain and
    # key (PEM; copied into the broker's state dir at each start). docs/tls.md.
    mqtt_tls_port: int = Field(default=0, ge=0, le=65535)
    mqtt_tls_host: str | None = None  # default: mqtt_host
    mqtt_tls_cert: Path | None = None
    mqtt_tls_key: Path | None = None
    # The CA that signed the broker's certificate, for mqtts:// clients (default: the system's).
    mqtt_ca_file: Path | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    pg_port: int = Field(default=55432, ge=1, le=65535)
    ingest_metrics_port: int = Field(default=9101, ge=0, le=65535)
    detector_metrics_port: int = Field(default=9102, ge=0, le=65535)
    alerts_metrics_port: int = Field(default=9103, ge=0, le=65535)
    # Where the services' /metrics listen: loopback, except in a container, where Prometheus
    # scrapes from another one (deploy/compose.yaml sets 0.0.0.0 on the internal network).
    metrics_host: str = "127.0.0.1"
    # Where phones reach the API: the base of the one-time acknowledgement links in pages.
    public_url: str | None = None
    ack_link_ttl_s: int = Field(default=1800, ge=60, le=86400)
    # Login attempts per account from one client address per minute, and the ceiling of all
    # login and refresh attempts from one address (a shift's phones behind one NAT share it),
    # per API process (services/auth/throttle.py).
    login_attempts_per_minute: int = Field(default=10, ge=1)
    login_attempts_per_address_per_minute: int = Field(default=100, ge=1)
    # Open live feeds (GET /api/v1/alerts/stream) per user and per API process: past either,
    # a new one is refused with 429 (issue 13; docs/security.md).
    stream_limit_per_user: int = Field(default=5, ge=1)
    stream_limit_per_process: int = Field(default=200, ge=1)
    # `carewatch up` only (the local demo): the API takes the demo care team's pages at
    # /demo/pager, from loopback only; refused with an external database or broker.
    demo_pager: bool = False
    # Reverse proxies whose X-Forwarded-For the API believes (addresses or networks, comma-
    # separated). Default none: the client address is the connection's, whoever connects.
    trusted_proxies: str = ""

    ingest_client_id: str = "carewatch-ingest"
    ingest_batch_size: int = Field(default=5000, ge=1)
    ingest_flush_ms: int = Field(default=200, ge=1)
    ingest_queue_max: int = Field(default=50_000, ge=1)
    # Several ingest workers on one MQTT 5 shared subscription (docs/scaling.md): worker N
    # is client `INGEST_CLIENT_ID-N` with metrics on INGEST_WORKER_METRICS_BASE + N.
    ingest_worker: int | None = Field(default=None, ge=1, le=999)
    ingest_share_group: str | None = None
    ingest_worker_metrics_base: int = Field(default=9110, ge=0, le=64535)
    # Detector partitions (docs/scaling.md): the sites one detector owns, comma-separated;
    # unset: every site, under the client id and cursor a single detector always used.
    detector_sites: str | None = None
    detector_partition: str | None = None
    retention_days: int = Field(default=365, ge=1)
    # Dead letters (rejected device messages) are kept this long, and at most this many.
    dead_letter_days: int = Field(default=30, ge=1)
    dead_letter_max_rows: int = Field(default=1_000_000, ge=1)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for item in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def local_database(self) -> bool:
        # A service given only its role's URL is external too: it must not fall back to the
        # data dir's secrets (or an embedded server) for anything.
        return self.database_url is None and not any(
            getattr(self, f"{role}_database_url") is not None for role in SERVICE_ROLES
        )

    @property
    def local_broker(self) -> bool:
        # Likewise the owner's environment holds only the admin account (deploy/env/).
        return self.mqtt_url is None and self.mqtt_admin_url is None

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    host: str
    port: int
    username: str
    password: str
    tls: bool = False
    ca_file: str | None = None  # with tls: trust only this CA (PEM); None: the system's CAs

    def __repr__(self) -> str:  # never print the password
        return f"MqttEndpoint({self.username}@{self.host}:{self.port}, tls={self.tls})"


def parse_mqtt_url(url: str) -> MqttEndpoint:
    """`mqtt://user:password@host:port` (or `mqtts://` for TLS) into an endpoint."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigError(f"MQTT URL must start with mqtt:// or mqtts://, not {parts.scheme!r}://")
    if not parts.hostname or not parts.username or not parts.password:
        raise ConfigError("MQTT URL needs user, password and host: mqtt://USER:PASSWORD@HOST:PORT")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"MQTT URL has an invalid port: {exc}") from None
    if port == 0:
        raise ConfigError("MQTT URL has an invalid port: 0")
    tls = parts.scheme == "mqtts"
    return MqttEndpoint(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        username=unquote(parts.username),
        password=unquote(parts.password),
        tls=tls,
    )


def _read_secrets_file(path: Path) -> dict[str, str]:
    try:
        loaded: Any = json.loads(path.read_text())
    except ValueError:
        raise ConfigError(f"{path} is not valid JSON: restore it from a backup") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} is not a JSON object: restore it from a backup")
    missing = [name for name in FIRST_SECRET_NAMES if not isinstance(loaded.get(name), str)]
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}: restore it from a backup")
    return {name: loaded[name] for name in SECRET_NAMES if isinstance(loaded.get(name), str)}


def _write_private(path: Path, values: dict[str, str]) -> None:
    # O_EXCL + 0600 from the start: the file is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(values, out)


def load_or_create_secrets(data_dir: Path) -> dict[str, str]:
    """The local deployment's generated secrets, created on first use with mode 0600.

    A data dir from an older release gets the secrets added since (the database roles'
    passwords) generated into its file, keeping the ones it has."""
    path = data_dir / SECRETS_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        created = {name: secrets.token_urlsafe(24) for name in SECRET_NAMES}
        _write_private(path, created)
        return created
    found = _read_secrets_file(path)
    if len(found) == len(SECRET_NAMES):
        return found
    with open(path, "rb") as held:
        # Two starters upgrading at once: the second waits, then finds the names added.
        fcntl.flock(held, fcntl.LOCK_EX)
        found = _read_secrets_file(path)
        added = {n: secrets.token_urlsafe(24) for n in SECRET_NAMES if n not in found}
        if added:
            found |= added
            staged = path.with_name(f".{SECRETS_FILE}.{os.getpid()}")
            staged.unlink(missing_ok=True)
            _write_private(staged, found)
            os.replace(staged, path)  # readers see the old file or the new one, never half
    return found


def read_secrets(data_dir: Path) -> dict[str, str]:
    """The secrets as they are (never writing): only `LocalStack` creates or adds them."""
    path = data_dir / SECRETS_FILE
    if not path.exists():
        raise ConfigError(
            f"no {path}: run `carewatch up` once to create the local deployment, or set "
            "CAREWATCH_DATABASE_URL and CAREWATCH_MQTT_URL for external services"
        )
    return _read_secrets_file(path)


LOCAL_DB_USER = "carewatch"
LOCAL_DB_NAME = "carewatch"
LOCAL_MQTT_ADMIN = "carewatch-admin"
LOCAL_MQTT_INGEST = "carewatch-ingest"


def database_url(settings: Settings, role: ServiceRole | None = None) -> str:
    """The owner's URL (role None: migrations, admin commands, backups) or a service's own.

    A service's URL is its CAREWATCH_<ROLE>_DATABASE_URL, else CAREWATCH_DATABASE_URL (one
    account for everything: the split is given up), else the local role and its password;
    outside local mode (some database URL set) a missing one is a ConfigError."""
    if role is not None:
        own: SecretStr | None = getattr(settings, f"{role}_database_url")
        if own is not None:
            return own.get_secret_value()
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    if not settings.local_database:
        # Only other roles' URLs are set: a process without the owner's URL (or its own) must
        # not borrow local secrets that describe some other database.
        wanted = "CAREWATCH_DATABASE_URL (the owner's)"
        if role is not None:
            wanted = f"CAREWATCH_{role.upper()}_DATABASE_URL"
        what = "this command" if role is None else f"the {role} service"
        raise ConfigError(f"{what} needs {wanted}: only other roles' database URLs are set")
    found = read_secrets(settings.data_dir)
    user, name = (
        (LOCAL_DB_USER, "pg_password") if role is None else (db_role(role), f"pg_{role}_password")
    )
    if name not in found:
        raise ConfigError(
            f"{settings.data_dir / SECRETS_FILE} has no {name} yet: start the local stack "
            "once with this release (`carewatch up`) to add it"
        )
    password = found[name]
    return f"postgresql://{user}:{password}@127.0.0.1:{settings.pg_port}/{LOCAL_DB_NAME}"


def db_role(role: ServiceRole) -> str:
    """The PostgreSQL role a service connects as (created by migration 0008)."""
    return f"carewatch_{role}"


def _with_ca(endpoint: MqttEndpoint, settings: Settings) -> MqttEndpoint:
    if settings.mqtt_ca_file is None:
        return endpoint
    return replace(endpoint, ca_file=str(settings.mqtt_ca_file))


def mqtt_ingest_endpoint(settings: Settings) -> MqttEndpoint:
    if settings.mqtt_url is not None:
        return _with_ca(parse_mqtt_url(settings.mqtt_url.get_secret_value()), settings)
    if not settings.local_broker:
        raise ConfigError("set CAREWATCH_MQTT_URL: only the broker's admin URL is set")
    password = read_secrets(settings.data_dir)["mqtt_ingest_password"]
    return MqttEndpoint(settings.mqtt_host, settings.mqtt_port, LOCAL_MQTT_INGEST, password)


def mqtt_admin_endpoint(settings: Settings) -> MqttEndpoint:
    if settings.mqtt_admin_url is not None:
        return _with_ca(parse_mqtt_url(settings.mqtt_admin_url.get_secret_value()), settings)
    if settings.mqtt_url is not None:
        raise ConfigError("an external broker needs CAREWATCH_MQTT_ADMIN_URL for provisioning")
    password = read_secrets(settings.data_dir)["mqtt_admin_password"]
    return MqttEndpoint(settings.mqtt_host, settings.mqtt_port, LOCAL_MQTT_ADMIN, password)


def admin_token(settings: Settings) -> str:
    if settings.admin_token is not None:
        return settings.admin_token.get_secret_value()
    if not settings.local_database:
        raise ConfigError("set CAREWATCH_ADMIN_TOKEN: outside local mode no default is generated")
    return read_secrets(settings.data_dir)["api_admin_token"]
