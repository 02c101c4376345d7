"""The record key: from the environment (with rotation) or the data dir's file, created once
with mode 0600 and never replaced; tokens that hold no plaintext."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from services.errors import ConfigError
from services.records.crypto import KEY_FILE, RecordCipher, ensure_key_file, record_cipher
from services.settings import Settings

ID = "11010519491231002X"


def test_the_key_file_is_private_and_never_replaced(tmp_path: Path) -> None:
    ensure_key_file(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    ensure_key_file(tmp_path / "data")
    assert path.read_bytes() == first
    cipher = record_cipher(Settings(data_dir=tmp_path / "data"))
    assert cipher is not None
    token = cipher.encrypt(ID)
    assert ID.encode() not in token and cipher.decrypt(token) == ID


def test_local_mode_without_a_key_file_and_external_mode_without_the_variable(
    tmp_path: Path,
) -> None:
    assert record_cipher(Settings(data_dir=tmp_path)) is None
    external = Settings(data_dir=tmp_path, database_url=SecretStr("postgresql://x@h/db"))
    ensure_key_file(tmp_path)  # a local file is not used for an external database
    assert record_cipher(external) is None


def test_the_variable_takes_precedence_and_rotates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("CAREWATCH_RECORD_KEY", old)
    stored = record_cipher(Settings(data_dir=tmp_path))
    assert stored is not None
    token = stored.encrypt(ID)
    monkeypatch.setenv("CAREWATCH_RECORD_KEY", f"{new},{old}")
    rotated = record_cipher(Settings(data_dir=tmp_path))
    assert rotated is not None and rotated.decrypt(token) == ID
    monkeypatch.setenv("CAREWATCH_RECORD_KEY", new)
    alone = record_cipher(Settings(data_dir=tmp_path))
    assert alone is not None
    with pytest.raises(ConfigError, match="does not decrypt"):
        alone.decrypt(token)


def test_a_bad_key_is_a_clear_config_error_and_no_key_is_ever_shown() -> None:
    with pytest.raises(ConfigError, match="not a Fernet key"):
        RecordCipher(["short"])
    key = Fernet.generate_key().decode()
    assert key not in repr(RecordCipher([key]))
