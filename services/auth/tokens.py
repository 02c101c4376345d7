"""Short-lived access tokens (JWT, HS256) and opaque refresh tokens (stored hashed, rotated on
use). The signing key is derived from the deployment's admin secret, so there is one secret to
keep; rotating it logs everybody out."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

import jwt

from services.auth.principal import ROLES, Principal
from services.errors import CareWatchError

__all__ = [
    "ACCESS_TTL_S",
    "REFRESH_TTL_S",
    "TokenError",
    "TokenSigner",
    "hash_refresh",
    "new_refresh_token",
]

ACCESS_TTL_S = 15 * 60  # short: a lost phone's session is over by the next round
REFRESH_TTL_S = 12 * 3600  # a shift
ISSUER = "carewatch"
AUDIENCE = "carewatch-api"


class TokenError(CareWatchError):
    """The token is missing, malformed, expired or not ours."""


class TokenSigner:
    def __init__(self, secret: str, *, ttl_s: int = ACCESS_TTL_S) -> None:
        self._key = hmac.new(secret.encode(), b"carewatch.jwt.v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, principal: Principal, *, now: datetime) -> str:
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.username,
            "role": principal.role,
            "site": principal.site_id,
            "units": sorted(principal.unit_ids),
            "staff": principal.staff_id,
            "hospital": principal.hospital_id,
            "iat": int(now.timestamp()),
            # Unique per token: two issued within a second are still told apart (and logs can
            # name one without quoting it).
            "jti": secrets.token_urlsafe(9),
            "exp": int((now + timedelta(seconds=self.ttl_s)).timestamp()),
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
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
        )


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh(token: str) -> str:
    """Refresh tokens are stored by hash: a database dump holds no usable session."""
    return hashlib.sha256(token.encode()).hexdigest()
