"""The API's routers run no SQL of their own: they parse, authorise, call a repository
(services/api/repos/, or the room that owns the resource) and shape the answer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROUTES = Path(__file__).resolve().parents[3] / "services" / "api" / "routes"
# What talking to the database looks like from a module.
DATABASE_CALLS = frozenset({"execute", "executemany", "cursor", "copy", "fetchone", "fetchall"})


def _database_use(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in DATABASE_CALLS:
                found.append(f"line {node.lineno}: .{node.func.attr}()")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("psycopg"):
            found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}" for a in node.names if "psycopg" in a.name
            ]
    return found


@pytest.mark.parametrize("path", sorted(ROUTES.glob("*.py")), ids=lambda p: p.name)
def test_a_router_leaves_sql_to_its_repository(path: Path) -> None:
    assert _database_use(path) == []
