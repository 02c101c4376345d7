"""A scratch database for the migration tests: old rows are written at an earlier schema
version, then the later migrations run over them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from services.db.migrate import available
from tests.support import Conn


@pytest.fixture
def scratch_db(db: Conn, db_url: str) -> Iterator[Conn]:
    """A database of its own on the session's server, dropped at the end."""
    name = f"mig_{uuid.uuid4().hex[:8]}"
    db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(db_url)
    try:
        with psycopg.connect(urlunsplit(parts._replace(path=f"/{name}")), autocommit=True) as conn:
            yield conn
    finally:
        db.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate(conn: Conn, *, below: int | None = None, from_version: int | None = None) -> None:
    """Run the product's migrations below `below`, or from `from_version` on."""
    versions = [m.version for m in available()]
    assert (below or from_version) in versions
    for m in available():
        if (below is not None and m.version < below) or (
            from_version is not None and m.version >= from_version
        ):
            conn.execute(m.sql.encode())
