"""The local data services for one data dir: PostgreSQL + TimescaleDB and Mosquitto.

`carewatch up` and the test suite both start them through `LocalStack`, so the tests
exercise the same code path a user runs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from services.db.migrate import apply_migrations
from services.local.mosquitto import EmbeddedMosquitto
from services.local.postgres import EmbeddedPostgres
from services.settings import (
    LOCAL_DB_NAME,
    LOCAL_DB_USER,
    LOCAL_MQTT_ADMIN,
    LOCAL_MQTT_INGEST,
    MqttEndpoint,
    Settings,
    database_url,
    load_or_create_secrets,
)

log = logging.getLogger("carewatch.local")


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
                )
                self.mosquitto.init()
                log.info("starting Mosquitto on %s:%d", s.mqtt_host, s.mqtt_port)
                self.mosquitto.start()
        except BaseException:
            self.stop()
            raise

    def migrate(self) -> None:
        with psycopg.connect(database_url(self.settings), autocommit=True) as conn:
            for migration in apply_migrations(conn):
                log.info("applied migration %04d_%s", migration.version, migration.name)

    def stop(self) -> None:
        """Broker first (no new readings), then the database; safe to call twice."""
        if self.mosquitto is not None:
            self.mosquitto.stop()
            self.mosquitto = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
