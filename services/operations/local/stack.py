"""The local data services for one data dir: PostgreSQL + TimescaleDB and Mosquitto.

`carewatch up` and the test suite both start them through `LocalStack`, so the tests
exercise the same code path a user runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from services.db.migrate import apply_migrations
from services.errors import ConfigError
from services.operations.local.mosquitto import EmbeddedMosquitto, TlsListener
from services.operations.local.postgres import EmbeddedPostgres
from services.records.crypto import ensure_key_file
from services.settings import (
    LOCAL_DB_NAME,
    LOCAL_DB_USER,
    LOCAL_MQTT_ADMIN,
    LOCAL_MQTT_INGEST,
    SERVICE_ROLES,
    MqttEndpoint,
    Settings,
    database_url,
    db_role,
    load_or_create_secrets,
)

log = logging.getLogger("carewatch.local")


def tls_listener(settings: Settings) -> TlsListener | None:
    """The embedded broker's TLS listener, when CAREWATCH_MQTT_TLS_PORT asks for one."""
    if not settings.mqtt_tls_port:
        return None
    if settings.mqtt_tls_cert is None or settings.mqtt_tls_key is None:
        raise ConfigError(
            "CAREWATCH_MQTT_TLS_PORT needs CAREWATCH_MQTT_TLS_CERT and CAREWATCH_MQTT_TLS_KEY "
            "(the server's certificate chain and key, PEM; docs/tls.md)"
        )
    return TlsListener(
        host=settings.mqtt_tls_host or settings.mqtt_host,
        port=settings.mqtt_tls_port,
        cert=Path(settings.mqtt_tls_cert).resolve(),
        key=Path(settings.mqtt_tls_key).resolve(),
    )


class LocalStack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = Path(settings.data_dir).resolve()
        self.postgres: EmbeddedPostgres | None = None
        self.mosquitto: EmbeddedMosquitto | None = None

    def start(self) -> None:
        """Create the data dir on first use, start what is local, apply migrations."""
        secrets = load_or_create_secrets(self.data_dir)
        s = self.settings
        if s.local_database and s.record_key is None:
            # The key of residents' identifiers at rest (services/records/crypto.py).
            ensure_key_file(self.data_dir)
        try:
            if s.local_database:
                self.postgres = EmbeddedPostgres(
                    self.data_dir,
                    port=s.pg_port,
                    superuser=LOCAL_DB_USER,
                    password=secrets["pg_password"],
                )
                first = not self.postgres.initialised
                self.postgres.init()
                log.info(
                    "starting PostgreSQL on 127.0.0.1:%d%s", s.pg_port, " (new)" if first else ""
                )
                self.postgres.start()
                self.postgres.ensure_database(LOCAL_DB_NAME)
            self.migrate()
            if s.local_database:
                self.set_role_passwords(secrets)
            if s.local_broker:
                self.mosquitto = EmbeddedMosquitto(
                    self.data_dir,
                    host=s.mqtt_host,
                    port=s.mqtt_port,
                    admin=MqttEndpoint(
                        s.mqtt_host, s.mqtt_port, LOCAL_MQTT_ADMIN, secrets["mqtt_admin_password"]
                    ),
                    ingest=MqttEndpoint(
                        s.mqtt_host, s.mqtt_port, LOCAL_MQTT_INGEST, secrets["mqtt_ingest_password"]
                    ),
                    tls=tls_listener(s),
                )
                self.mosquitto.init()
                log.info(
                    "starting Mosquitto on %s:%d%s",
                    s.mqtt_host,
                    s.mqtt_port,
                    f" (TLS on {s.mqtt_tls_port})" if s.mqtt_tls_port else "",
                )
                self.mosquitto.start()
        except BaseException:
            self.stop()
            raise

    def migrate(self) -> None:
        with psycopg.connect(database_url(self.settings), autocommit=True) as conn:
            for migration in apply_migrations(conn):
                log.info("applied migration %04d_%s", migration.version, migration.name)

    def set_role_passwords(self, secrets: dict[str, str]) -> None:
        """Give each service's role (migration 0008) its password from secrets.json, at every
        start: a data dir from before the roles, or a restored secrets file, just works."""
        with psycopg.connect(database_url(self.settings), autocommit=True) as conn:
            for role in SERVICE_ROLES:
                user = db_role(role)
                # Hashed here (SCRAM): the password itself never reaches the server's logs.
                verifier = conn.pgconn.encrypt_password(
                    secrets[f"pg_{role}_password"].encode(), user.encode(), b"scram-sha-256"
                )
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(user), sql.Literal(verifier.decode())
                    )
                )

    def stop(self) -> None:
        """Broker first (no new readings), then the database; safe to call twice."""
        if self.mosquitto is not None:
            self.mosquitto.stop()
            self.mosquitto = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
