"""One settings object per process, built at start-up from CAREWATCH_* environment variables.

Local mode (the default) keeps PostgreSQL, Mosquitto and their generated secrets under
`data_dir`; setting CAREWATCH_DATABASE_URL / CAREWATCH_MQTT_URL points a process at external
services instead, and then no secret is generated or read from the data dir for that service.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.errors import ConfigError

SECRETS_FILE = "secrets.json"
SECRET_NAMES = ("pg_password", "mqtt_admin_password", "mqtt_ingest_password", "api_admin_token")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAREWATCH_", extra="ignore")

    data_dir: Path = Path(".carewatch")
    database_url: SecretStr | None = None
    mqtt_url: SecretStr | None = None  # the ingest worker's account, e.g. mqtt://user:pw@host:1883
    mqtt_admin_url: SecretStr | None = None  # an account allowed to use dynamic security
    admin_token: SecretStr | None = None  # bearer token for the admin API until user auth lands

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    pg_port: int = Field(default=55432, ge=1, le=65535)
    ingest_metrics_port: int = Field(default=9101, ge=0, le=65535)
    detector_metrics_port: int = Field(default=9102, ge=0, le=65535)
    alerts_metrics_port: int = Field(default=9103, ge=0, le=65535)
    # Where phones reach the API: the base of the one-time acknowledgement links in pages.
    public_url: str | None = None
    ack_link_ttl_s: int = Field(default=1800, ge=60, le=86400)
    # Login and refresh attempts per client address per minute, per API process.
    login_attempts_per_minute: int = Field(default=10, ge=1)
    # `carewatch up` only: the API takes the demo care team's pages at /demo/pager.
    demo_pager: bool = False

    ingest_client_id: str = "carewatch-ingest"
    ingest_batch_size: int = Field(default=5000, ge=1)
    ingest_flush_ms: int = Field(default=200, ge=1)
    ingest_queue_max: int = Field(default=50_000, ge=1)
    retention_days: int = Field(default=365, ge=1)

    @property
    def local_database(self) -> bool:
        return self.database_url is None

    @property
    def local_broker(self) -> bool:
        return self.mqtt_url is None

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


def load_or_create_secrets(data_dir: Path) -> dict[str, str]:
    """The local deployment's generated secrets, created on first use with mode 0600."""
    path = data_dir / SECRETS_FILE
    if path.exists():
        try:
            loaded: Any = json.loads(path.read_text())
        except ValueError:
            raise ConfigError(f"{path} is not valid JSON: restore it from a backup") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} is not a JSON object: restore it from a backup")
        missing = [name for name in SECRET_NAMES if not isinstance(loaded.get(name), str)]
        if missing:
            raise ConfigError(f"{path} lacks {', '.join(missing)}: restore it from a backup")
        return {name: loaded[name] for name in SECRET_NAMES}
    data_dir.mkdir(parents=True, exist_ok=True)
    created = {name: secrets.token_urlsafe(24) for name in SECRET_NAMES}
    # O_EXCL + 0600 from the start: the file is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(created, out)
    return created


def read_secrets(data_dir: Path) -> dict[str, str]:
    path = data_dir / SECRETS_FILE
    if not path.exists():
        raise ConfigError(
            f"no {path}: run `carewatch up` once to create the local deployment, or set "
            "CAREWATCH_DATABASE_URL and CAREWATCH_MQTT_URL for external services"
        )
    return load_or_create_secrets(data_dir)


LOCAL_DB_USER = "carewatch"
LOCAL_DB_NAME = "carewatch"
LOCAL_MQTT_ADMIN = "carewatch-admin"
LOCAL_MQTT_INGEST = "carewatch-ingest"


def database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    password = read_secrets(settings.data_dir)["pg_password"]
    return f"postgresql://{LOCAL_DB_USER}:{password}@127.0.0.1:{settings.pg_port}/{LOCAL_DB_NAME}"


def mqtt_ingest_endpoint(settings: Settings) -> MqttEndpoint:
    if settings.mqtt_url is not None:
        return parse_mqtt_url(settings.mqtt_url.get_secret_value())
    password = read_secrets(settings.data_dir)["mqtt_ingest_password"]
    return MqttEndpoint(settings.mqtt_host, settings.mqtt_port, LOCAL_MQTT_INGEST, password)


def mqtt_admin_endpoint(settings: Settings) -> MqttEndpoint:
    if settings.mqtt_admin_url is not None:
        return parse_mqtt_url(settings.mqtt_admin_url.get_secret_value())
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
