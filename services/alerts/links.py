"""Signed one-time acknowledgement links: a caregiver taps the link in the page on their phone
and acknowledges without logging in. The signature (itsdangerous, keyed with the deployment's
secret) proves which alert and which person and bounds the age; the `ack_links` row makes the
link single-use. Scoped: a token acknowledges its own alert and nothing else."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from services.alerts.errors import AlertError

__all__ = ["DEFAULT_TTL_S", "AckLink", "LinkError", "LinkExpired", "LinkSigner"]

# Long enough to reach the phone, read and walk over; short enough that a forwarded message
# is useless by the next shift.
DEFAULT_TTL_S = 30 * 60
SALT = "carewatch.ack-link.v1"


class LinkError(AlertError):
    """The link is forged, expired, already used or for another alert."""

    status = 410


class LinkExpired(LinkError):
    """Genuine but older than the link's lifetime (the page says so in its own words)."""


@dataclass(frozen=True, slots=True)
class AckLink:
    alert_id: int
    staff_id: str
    nonce: str
    token: str
    expires_at: datetime


class LinkSigner:
    def __init__(self, key: str, *, ttl_s: int = DEFAULT_TTL_S) -> None:
        if len(key) < 16:
            raise ValueError("the link key must be at least 16 characters")
        self._serializer = URLSafeTimedSerializer(key, salt=SALT)
        self.ttl_s = ttl_s

    def issue(self, alert_id: int, staff_id: str, *, now: datetime) -> AckLink:
        nonce = secrets.token_urlsafe(12)
        token = self._serializer.dumps({"a": alert_id, "s": staff_id, "n": nonce})
        return AckLink(alert_id, staff_id, nonce, token, now + timedelta(seconds=self.ttl_s))

    def verify(self, token: str) -> tuple[int, str, str]:
        """(alert id, staff id, nonce) of a genuine, unexpired token; LinkError otherwise.
        Single use is the caller's check against the stored nonce."""
        try:
            data = self._serializer.loads(token, max_age=self.ttl_s)
        except SignatureExpired:
            raise LinkExpired(
                "this acknowledgement link has expired; open the alert board"
            ) from None
        except BadSignature:
            raise LinkError("this is not a valid acknowledgement link") from None
        if not (
            isinstance(data, dict)
            and isinstance(data.get("a"), int)
            and isinstance(data.get("s"), str)
            and isinstance(data.get("n"), str)
        ):
            raise LinkError("this is not a valid acknowledgement link")
        return data["a"], data["s"], data["n"]
