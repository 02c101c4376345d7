"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106's second recommended
parameter set). Verification never says whether the user exists: callers check a dummy hash
for unknown users so both paths cost the same."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["MIN_LENGTH", "check_new_password", "hash_password", "verify_password"]

MIN_LENGTH = 10
_hasher = PasswordHasher()
# Verified against when the user is unknown, so a login for a non-existent account takes as
# long as one for a real account (no user enumeration by timing).
DUMMY_HASH = _hasher.hash("carewatch-dummy-password")


def check_new_password(password: str) -> None:
    """ValueError naming what is wrong with a password being set."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > 1024:
        raise ValueError("the password must have at most 1024 characters")


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
