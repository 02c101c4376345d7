"""Device passwords: generated once, shown once, stored only as a salted hash."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 210_000  # OWASP's 2023 floor for PBKDF2-HMAC-SHA512


def generate_password() -> str:
    return secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    encoded = (base64.b64encode(part).decode() for part in (salt, digest))
    return "$".join(("pbkdf2_sha512", str(ITERATIONS), *encoded))


def verify_password(password: str, stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != "pbkdf2_sha512":
        return False
    _, iterations, salt, digest = parts
    candidate = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))
