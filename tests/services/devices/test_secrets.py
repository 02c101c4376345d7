"""Tests for services.devices.secrets: random passwords, salted PBKDF2 hashes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.devices.secrets import generate_password, hash_password, verify_password


def test_generated_passwords_are_long_and_random() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) >= 32 for p in passwords)
    # URL-safe: shown once in JSON and typed into device configuration tools.
    assert all(p.replace("-", "").replace("_", "").isalnum() and p.isascii() for p in passwords)


@pytest.fixture(scope="module")
def stored() -> tuple[str, str]:
    password = generate_password()
    return password, hash_password(password)


def test_hash_verifies_the_password(stored: tuple[str, str]) -> None:
    password, secret_hash = stored
    assert verify_password(password, secret_hash)
    assert password not in secret_hash
    assert secret_hash.startswith("pbkdf2_sha512$")


WRONG: list[Callable[[str], str]] = [
    lambda _p: "",
    lambda _p: "x",
    lambda p: p + "x",
    lambda p: p[:-1],
    lambda p: p.swapcase(),
    lambda p: " " + p,
]


@pytest.mark.parametrize(
    "mutate",
    WRONG,
    ids=["empty", "other", "suffixed", "truncated", "case-swapped", "leading-space"],
)
def test_wrong_password_fails(stored: tuple[str, str], mutate: Callable[[str], str]) -> None:
    password, secret_hash = stored
    candidate = mutate(password)
    assert candidate != password
    assert not verify_password(candidate, secret_hash)


def test_two_hashes_of_one_password_differ_and_both_verify() -> None:
    a, b = hash_password("same password"), hash_password("same password")
    assert a != b
    assert a.split("$")[2] != b.split("$")[2]  # the salt
    assert verify_password("same password", a) and verify_password("same password", b)


@pytest.mark.parametrize(
    "stored_hash",
    [
        "bcrypt$12$c2FsdA==$aGFzaA==",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
        "plaintext-password",
    ],
    ids=["other-scheme", "bcrypt", "argon2id", "no-scheme"],
)
def test_unknown_scheme_is_false(stored_hash: str) -> None:
    assert verify_password("plaintext-password", stored_hash) is False
