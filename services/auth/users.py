"""User accounts in the database: creation, login with lock-out, refresh-token rotation."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from psycopg import AsyncConnection, errors
from psycopg.rows import TupleRow

from services.auth.passwords import hash_password, verify_password
from services.auth.principal import ROLES, Principal, Role
from services.auth.tokens import REFRESH_TTL_S, hash_refresh, new_refresh_token, new_session_id
from services.errors import CareWatchError

__all__ = [
    "LOCK_AFTER",
    "LOCK_FOR",
    "LoginError",
    "UserError",
    "authenticate",
    "create_user",
    "issue_refresh",
    "revoke_refresh",
    "rotate_refresh",
    "session_of",
]

Conn = AsyncConnection[TupleRow]
LOCK_AFTER = 5  # failed logins in a row
LOCK_FOR = timedelta(minutes=15)
# One message for every failure: it must not tell an attacker which part was right.
LOGIN_FAILED = "incorrect username or password, or the account is locked for a while"


class UserError(CareWatchError, ValueError):
    """An account that cannot be created as asked."""


class LoginError(CareWatchError):
    """Login or refresh refused."""


_COLUMNS = (
    "user_id, username, role, site_id, unit_ids, staff_id, hospital_id, resident_id, region_id"
)
_WIDTH = len(_COLUMNS.split(", "))  # the columns after them are found by this


def _principal(row: tuple[object, ...]) -> Principal:
    _, username, role, site, units, staff, hospital, resident, region = row
    assert isinstance(role, str) and role in ROLES
    return Principal(
        username=str(username),
        role=role,
        site_id=site if isinstance(site, str) else None,
        unit_ids=frozenset(units or ()),  # type: ignore[call-overload]
        staff_id=staff if isinstance(staff, str) else None,
        hospital_id=hospital if isinstance(hospital, str) else None,
        resident_id=resident if isinstance(resident, int) else None,
        region_id=region if isinstance(region, str) else None,
    )


async def create_user(
    conn: Conn,
    username: str,
    password: str,
    role: Role,
    *,
    site_id: str | None = None,
    unit_ids: Iterable[str] = (),
    staff_id: str | None = None,
    hospital_id: str | None = None,
    resident_id: int | None = None,
    region_id: str | None = None,
) -> int:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    units = sorted(set(unit_ids))
    if units and site_id is None:
        raise UserError("units are within a site: give the site too")
    if role in ("physician", "nurse", "caregiver") and site_id is None and hospital_id is None:
        raise UserError(f"a {role} works somewhere: give --site (or --hospital)")
    if (role == "family") != (resident_id is not None):
        raise UserError("a family login is for one resident: give the resident (and only then)")
    if (role == "regulator") != (region_id is not None):
        raise UserError("a regulator, and only a regulator, is bound to a region")
    if role == "regulator" and (site_id or units or hospital_id):
        raise UserError("a regulator sees a region's sites: no site, units or hospital")
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        cur = await conn.execute(
            "INSERT INTO users (username, password_hash, role, site_id, unit_ids, staff_id,"
            " hospital_id, resident_id, region_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING user_id",
            [username, hashed, role, site_id, units, staff_id, hospital_id, resident_id, region_id],
        )
    except errors.UniqueViolation:
        raise UserError(f"user {username!r} already exists") from None
    except errors.ForeignKeyViolation:
        what = f"site {site_id!r}" if resident_id is None else f"site or resident {resident_id}"
        raise UserError(f"no {what} or no region {region_id!r}") from None
    except errors.CheckViolation:
        raise UserError("a username is 1-64 letters, digits and _ . @ - (no spaces)") from None
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def authenticate(
    conn: Conn, username: str, password: str, *, now: datetime
) -> tuple[int, Principal]:
    """The user, if the password is right and the account is active and not locked. Every
    failure counts towards the lock-out and gets the same message."""
    cur = await conn.execute(
        f"SELECT {_COLUMNS}, password_hash, active, locked_until FROM users"  # noqa: S608
        " WHERE username = %s",
        [username],
    )
    row = await cur.fetchone()
    # Verify even for unknown users (against a dummy hash): the same time either way.
    ok = verify_password(row[_WIDTH] if row else None, password)
    if row is None:
        raise LoginError(LOGIN_FAILED)
    user_id, active, locked_until = int(row[0]), bool(row[_WIDTH + 1]), row[_WIDTH + 2]
    if locked_until is not None and locked_until > now:
        raise LoginError(LOGIN_FAILED)
    if not ok or not active:
        await conn.execute(
            "UPDATE users SET failed_logins = failed_logins + 1,"
            " locked_until = CASE WHEN failed_logins + 1 >= %s THEN %s ELSE locked_until END"
            " WHERE user_id = %s",
            [LOCK_AFTER, now + LOCK_FOR, user_id],
        )
        raise LoginError(LOGIN_FAILED)
    await conn.execute(
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE user_id = %s", [user_id]
    )
    return user_id, _principal(row[:_WIDTH])


async def issue_refresh(
    conn: Conn, user_id: int, *, now: datetime, session_id: str | None = None
) -> str:
    """A refresh token of session `session_id` (None: a new session)."""
    token = new_refresh_token()
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, user_id, issued_at, expires_at, session_id)"
        " VALUES (%s, %s, %s, %s, %s)",
        [
            hash_refresh(token),
            user_id,
            now,
            now + timedelta(seconds=REFRESH_TTL_S),
            session_id or new_session_id(),
        ],
    )
    return token


async def session_of(conn: Conn, token: str) -> str | None:
    """The session a refresh token belongs to (for the access token issued with it)."""
    cur = await conn.execute(
        "SELECT session_id FROM refresh_tokens WHERE token_hash = %s", [hash_refresh(token)]
    )
    row = await cur.fetchone()
    return None if row is None else str(row[0])


async def rotate_refresh(conn: Conn, token: str, *, now: datetime) -> tuple[int, Principal, str]:
    """Spend a refresh token for a new one of the same session (and the user, for a new
    access token)."""
    cur = await conn.execute(
        f"SELECT r.revoked_at, r.expires_at, u.active, {_COLUMNS}, r.session_id"  # noqa: S608
        " FROM refresh_tokens r JOIN users u USING (user_id) WHERE r.token_hash = %s"
        " FOR UPDATE OF r",
        [hash_refresh(token)],
    )
    row = await cur.fetchone()
    if row is None:
        raise LoginError("the refresh token is not valid: log in again")
    revoked_at, expires_at, active = row[0], row[1], bool(row[2])
    user_id, session_id = int(row[3]), str(row[3 + _WIDTH])
    if revoked_at is not None:
        # A spent token came back: someone kept a copy. End every session of this user.
        await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = %s WHERE user_id = %s AND revoked_at IS NULL",
            [now, user_id],
        )
        raise LoginError("the refresh token was already used: log in again")
    if expires_at <= now or not active:
        raise LoginError("the refresh token has expired: log in again")
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = %s WHERE token_hash = %s",
        [now, hash_refresh(token)],
    )
    fresh = await issue_refresh(conn, user_id, now=now, session_id=session_id)
    return user_id, _principal(row[3 : 3 + _WIDTH]), fresh


async def revoke_refresh(conn: Conn, token: str, *, now: datetime) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET revoked_at = %s WHERE token_hash = %s AND revoked_at IS NULL",
        [now, hash_refresh(token)],
    )
