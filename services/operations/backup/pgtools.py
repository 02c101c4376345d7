"""pg_dump and pg_restore as child processes: the password through the environment (never
the command line, where `ps` shows it), their verbose lines as progress, their errors kept."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from services.operations.backup.errors import BadArchive, ToolFailed
from services.operations.local.postgres import pg_binary

# pg_dump warns about these on every TimescaleDB database; TimescaleDB documents them as
# expected (its catalog tables reference each other), so they are not shown.
EXPECTED_WARNING = "circular foreign-key constraints"
CONNECT_TIMEOUT_S = "10"


def libpq_args(url: str) -> tuple[str, dict[str, str]]:
    """The connection string without its password, and an environment carrying it."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ, PGCONNECT_TIMEOUT=CONNECT_TIMEOUT_S)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None}), env


def significant_lines(lines: Iterable[str]) -> list[str]:
    """The error and warning lines worth showing: no progress chatter, no expected warnings
    (with their detail and hint lines)."""
    kept: list[str] = []
    skipping = False
    for line in lines:
        text = line.split(": ", 1)[1] if ": " in line else line
        if text.startswith(("detail:", "hint:", "DETAIL:", "HINT:")):
            if not skipping:
                kept.append(line)
            continue
        skipping = EXPECTED_WARNING in line
        if not skipping and text.startswith(("error:", "warning:", "ERROR:", "WARNING:")):
            kept.append(line)
    return kept


def run_tool(
    argv: list[str], *, env: dict[str, str], on_line: Callable[[str], None]
) -> tuple[int, list[str]]:
    """Run to the end, feeding each stderr line to `on_line`; (exit code, stderr lines).

    No overall timeout: a dump takes as long as the data needs; connecting is bounded by
    PGCONNECT_TIMEOUT."""
    lines: list[str] = []
    with subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.rstrip("\n")
            lines.append(line)
            on_line(line)
        code = proc.wait()
    return code, lines


def dump(url: str, *, snapshot: str, out: Path, on_table: Callable[[str], None]) -> list[str]:
    """pg_dump's custom format from the exported `snapshot`; returns warnings worth showing."""
    conninfo, env = libpq_args(url)
    argv = [str(pg_binary("pg_dump")), "--format=custom", "--verbose", f"--snapshot={snapshot}"]
    argv += ["--file", str(out), "--dbname", conninfo]
    marker = "dumping contents of table "

    def on_line(line: str) -> None:
        if marker in line:
            on_table(line.split(marker, 1)[1].strip('"'))

    code, lines = run_tool(argv, env=env, on_line=on_line)
    shown = significant_lines(lines)
    if code != 0:
        raise ToolFailed("pg_dump failed:\n" + "\n".join(shown or lines[-10:]))
    return shown


def toc_entries(archive: Path) -> int:
    """How many items the archive holds; BadArchive when pg_restore cannot read it."""
    argv = [str(pg_binary("pg_restore")), "--list", str(archive)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        raise BadArchive("pg_restore took over 5 minutes to list the dump") from None
    if done.returncode != 0:
        detail = "\n".join(done.stderr.strip().splitlines()[-3:])
        raise BadArchive(f"the database dump in the backup is unreadable (corrupt?):\n{detail}")
    return sum(1 for line in done.stdout.splitlines() if line and not line.startswith(";"))


def restore(url: str, *, archive: Path, on_item: Callable[[str], None]) -> list[str]:
    """pg_restore into `url`, objects owned by whoever connects (--no-owner): the dump's owner
    need not exist here. GRANTs to the service roles are restored when those roles exist."""
    conninfo, env = libpq_args(url)
    argv = [str(pg_binary("pg_restore")), "--no-owner", "--exit-on-error", "--verbose"]
    argv += ["--dbname", conninfo, str(archive)]

    def on_line(line: str) -> None:
        if line.startswith("pg_restore: ") and ("creating " in line or "processing " in line):
            on_item(line.removeprefix("pg_restore: "))

    code, lines = run_tool(argv, env=env, on_line=on_line)
    shown = significant_lines(lines)
    if code != 0:
        raise ToolFailed(
            "pg_restore failed; the database is partly restored (run restore again with "
            "--force once the cause is fixed):\n" + "\n".join(shown or lines[-10:])
        )
    return shown
