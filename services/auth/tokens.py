"""Short-lived access tokens (JWT, HS256) and opaque refresh tokens (stored hashed, rotated on
use). The signing key is derived from the deployment's admin secret, so there is one secret to
keep; rotating it logs everybody out."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.auth.principal import ROLES, Principal
from services.errors import CareWatchError

__all__ = [
    "ACCESS_TTL_S",
    "REFRESH_TTL_S",
    "TokenError",
    "TokenLife",
    "TokenSigner",
    "hash_refresh",
    "live_sessions",
    "new_refresh_token",
    "new_session_id",
]

ACCESS_TTL_S = 15 * 60  # short: a lost phone's session is over by the next round
REFRESH_TTL_S = 12 * 3600  # a shift
ISSUER = "carewatch"
AUDIENCE = "carewatch-api"


class TokenError(CareWatchError):
    """The token is missing, malformed, expired or not ours."""


@dataclass(frozen=True, slots=True)
class TokenLife:
    """How long what a token opened may last: until `expires_at`, and while its session (the
    refresh-token family it came from) is not revoked. None: not bounded that way (the
    deployment's admin token; access tokens from before sessions had ids)."""

    expires_at: datetime | None = None
    session_id: str | None = None


class TokenSigner:
    def __init__(self, secret: str, *, ttl_s: int = ACCESS_TTL_S) -> None:
        self._key = hmac.new(secret.encode(), b"carewatch.jwt.v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, principal: Principal, *, now: datetime, session_id: str | None = None) -> str:
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.username,
            "role": principal.role,
            "site": principal.site_id,
            "units": sorted(principal.unit_ids),
            "staff": principal.staff_id,
            "hospital": principal.hospital_id,
            "resident": principal.resident_id,
            "region": principal.region_id,
            "iat": int(now.timestamp()),
            # Unique per token: two issued within a second are still told apart (and logs can
            # name one without quoting it).
            "jti": secrets.token_urlsafe(9),
            "exp": int((now + timedelta(seconds=self.ttl_s)).timestamp()),
        }
        if session_id is not None:
            claims["sid"] = session_id  # the login it came from: revoked, the token's streams end
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> Principal:
        claims = self._claims(token)
        role = claims.get("role")
        if role not in ROLES:
            raise TokenError("the token is not valid")
        return Principal(
            username=str(claims["sub"]),
            role=role,
            site_id=claims.get("site"),
            unit_ids=frozenset(claims.get("units") or ()),
            staff_id=claims.get("staff"),
            hospital_id=claims.get("hospital"),
            resident_id=_resident(claims.get("resident")),
            region_id=claims.get("region"),
        )

    def life(self, token: str) -> TokenLife:
        """When the (valid) token expires and which session it belongs to."""
        claims = self._claims(token)
        sid = claims.get("sid")
        return TokenLife(
            datetime.fromtimestamp(int(claims["exp"]), UTC), sid if isinstance(sid, str) else None
        )

    def _claims(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],  # pinned: no "none", no algorithm confusion
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired: refresh it or log in again") from None
        except jwt.InvalidTokenError:
            raise TokenError("the token is not valid") from None
        return claims


def _resident(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_session_id() -> str:
    """A login's session: every refresh token of it, and every access token issued with them."""
    return secrets.token_urlsafe(16)


def hash_refresh(token: str) -> str:
    """Refresh tokens are stored by hash: a database dump holds no usable session."""
    return hashlib.sha256(token.encode()).hexdigest()


async def live_sessions(conn: AsyncConnection[TupleRow], session_ids: Iterable[str]) -> set[str]:
    """The revocation check: those of `session_ids` still alive, i.e. holding a refresh token
    not revoked (logout; a spent token presented again revokes all of the user's) nor
    expired, of an account still active. Rotation revokes a token and issues its successor
    in one transaction, so a session being refreshed never looks dead."""
    cur = await conn.execute(
        "SELECT DISTINCT r.session_id FROM refresh_tokens r JOIN users u USING (user_id)"
        " WHERE r.session_id = ANY(%s) AND r.revoked_at IS NULL AND r.expires_at > now()"
        " AND u.active",
        [sorted(set(session_ids))],
    )
    return {str(row[0]) for row in await cur.fetchall()}
