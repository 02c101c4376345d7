"""SQL of the users router: accounts as the API shows them (never their password hashes).
Accounts are created by services/auth/users.py (`create_user`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Conn = AsyncConnection[TupleRow]

_COLUMNS: Final = (
    "user_id, username, role, site_id, unit_ids, staff_id, hospital_id, resident_id, region_id,"
    " active"
)
NAMES: Final = tuple(_COLUMNS.split(", "))


def _user(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(NAMES, row, strict=True))


async def get_user(conn: Conn, *, user_id: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM users WHERE user_id = %s",  # noqa: S608 - fixed columns
        [user_id],
    )
    row = await cur.fetchone()
    return None if row is None else _user(row)


async def list_users(conn: Conn, *, limit: int, offset: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM users ORDER BY user_id LIMIT %s OFFSET %s",  # noqa: S608
        [limit, offset],
    )
    return [_user(row) for row in await cur.fetchall()]
