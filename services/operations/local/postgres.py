"""Embedded PostgreSQL 15 + TimescaleDB under `<data_dir>/pg`, listening on loopback only."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psycopg

from services.errors import SetupError
from services.operations.local.process import ChildProcess
from services.operations.local.system import FIX_SETUP, RunAs, ensure_port_free, find_binary

PG_BIN_GLOBS = ("/usr/lib/postgresql/15/bin/{name}", "/usr/lib/postgresql/*/bin/{name}")

# Appended to postgresql.conf at initdb; the port is given on the command line at each start.
SERVER_CONF = """
# --- CareWatch embedded server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 100
shared_buffers = 256MB
max_wal_size = 2GB
logging_collector = off
"""


def pg_binary(name: str) -> Path:
    return find_binary(name, search=tuple(p.format(name=name) for p in PG_BIN_GLOBS))


def check_timescaledb_installed() -> None:
    pg_config = pg_binary("pg_config")
    sharedir = subprocess.run(
        [str(pg_config), "--sharedir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not (Path(sharedir) / "extension" / "timescaledb.control").exists():
        raise SetupError(f"TimescaleDB is not installed for this PostgreSQL: {FIX_SETUP}")


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, port: int, superuser: str, password: str) -> None:
        self.root = data_dir.resolve()
        self.pgdata = self.root / "pg"
        self.port = port
        self.superuser = superuser
        self.password = password
        self.run_as = RunAs.for_server("postgres")
        self.child: ChildProcess | None = None

    def url(self, dbname: str) -> str:
        return f"postgresql://{self.superuser}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with scram auth and our settings; a no-op when the cluster exists."""
        if self.initialised:
            return
        check_timescaledb_installed()
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        pwfile = self.root / ".pg-initpw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.password + "\n")
        try:
            self.run_as.own(self.pgdata)
            self.run_as.own(pwfile)
            self.run_as.check_can_enter(self.pgdata)
            argv = [
                str(pg_binary("initdb")),
                "-D",
                str(self.pgdata),
                "-U",
                self.superuser,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
            log = self.root / "log" / "initdb.log"
            initdb = ChildProcess("initdb", argv, log_path=log, run_as=self.run_as)
            initdb.start()
            assert initdb.proc is not None
            if initdb.proc.wait(120) != 0:
                raise SetupError(f"initdb failed:\n{initdb.log_tail()}")
        finally:
            pwfile.unlink(missing_ok=True)
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(SERVER_CONF)

    def start(self, timeout: float = 60.0) -> None:
        ensure_port_free("127.0.0.1", self.port, what="PostgreSQL", env_var="CAREWATCH_PG_PORT")
        argv = [str(pg_binary("postgres")), "-D", str(self.pgdata), "-p", str(self.port)]
        # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
        self.child = ChildProcess(
            "postgres",
            argv,
            log_path=self.root / "log" / "postgres.log",
            run_as=self.run_as,
            stop_signal=signal.SIGINT,
        )
        self.child.start()
        self.child.wait_until(self._accepts, timeout=timeout, what="accepting connections")

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def ensure_database(self, dbname: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [dbname]
            ).fetchone()
            if exists is None:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname))
                )

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(timeout=60)
