"""Encryption at rest of the record's identifiers (national ID, medical-insurance number).

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`): the database holds the token
only. The key is CAREWATCH_RECORD_KEY (one Fernet key, or several comma-separated: the first
encrypts, every one decrypts, for rotation), else, in local mode, `record.key` in the data dir,
created with mode 0600 by `carewatch up`. Outside local mode without the variable there is no
key: the API then refuses to store or show identifiers rather than keep them in clear."""

from __future__ import annotations

import base64
import hmac
import os
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.errors import ConfigError
from services.settings import Settings

KEY_FILE: Final = "record.key"


NO_KEY: Final = (
    "residents' identifiers cannot be stored or shown: no record key is configured"
    " (CAREWATCH_RECORD_KEY, docs/security.md)"
)


class RecordUnavailable(ConfigError):
    """An identifier cannot be stored or shown: no key (NO_KEY), or one that does not
    decrypt it (RecordKeyError). The API answers 503 with the message."""


class RecordKeyError(RecordUnavailable):
    """A stored identifier does not decrypt with the configured key(s)."""


def _digest_key(key: str) -> bytes:
    # A key of its own for the digests, so a digest reveals nothing of the encryption key.
    raw = base64.urlsafe_b64decode(key.strip())
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"carewatch national-id digest").derive(raw)


class RecordCipher:
    """Encrypts and decrypts one identifier at a time. Its repr shows no key."""

    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
            # One digest key per record key, derived (never the key itself): the first makes
            # new digests, each finds the ones made before a rotation.
            self._digest_keys = [_digest_key(k) for k in keys]
        except ValueError:
            raise ConfigError(
                "CAREWATCH_RECORD_KEY (or record.key) is not a Fernet key: 32 random bytes in"
                " URL-safe base64, e.g. from `python -c 'from cryptography.fernet import"
                " Fernet; print(Fernet.generate_key().decode())'`"
            ) from None

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken:
            raise RecordKeyError(
                "a stored identifier does not decrypt with the record key: was the key changed"
                " without keeping the old one (CAREWATCH_RECORD_KEY=new,old), or the database"
                " restored without its record.key? (docs/security.md)"
            ) from None

    def digest(self, national_id: str) -> bytes:
        """The national ID's digest under the current key: equal IDs, equal digests."""
        return self.digests(national_id)[0]

    def digests(self, national_id: str) -> list[bytes]:
        """Its digest under each configured key (the current one first)."""
        return [hmac.new(k, national_id.encode(), "sha256").digest() for k in self._digest_keys]

    def __repr__(self) -> str:
        return "RecordCipher(<keys hidden>)"


def ensure_key_file(data_dir: Path) -> None:
    """Create the local deployment's record key once (`carewatch up`); never replace it."""
    path = data_dir / KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL + 0600 from the start: never readable by others, never overwritten.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out:
        out.write(Fernet.generate_key())


def record_cipher(settings: Settings) -> RecordCipher | None:
    """The deployment's cipher; None when no key is configured (outside local mode)."""
    if settings.record_key is not None:
        keys = [k for k in settings.record_key.get_secret_value().split(",") if k.strip()]
        return RecordCipher(keys)
    if not settings.local_database:
        return None
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        return None
    return RecordCipher([path.read_text()])
