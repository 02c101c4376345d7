"""Tests for services.settings: MQTT URLs, the local secrets file, and refusing to invent
secrets outside local mode."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.errors import ConfigError
from services.settings import (
    FIRST_SECRET_NAMES,
    ROLE_SECRET_NAMES,
    SECRET_NAMES,
    SECRETS_FILE,
    SERVICE_ROLES,
    MqttEndpoint,
    ServiceRole,
    Settings,
    admin_token,
    database_url,
    load_or_create_secrets,
    mqtt_admin_endpoint,
    mqtt_ingest_endpoint,
    parse_mqtt_url,
    read_secrets,
)


@pytest.fixture(autouse=True)
def no_carewatch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the keyword arguments each test passes: nothing from the caller's environment."""
    for name in list(os.environ):
        if name.startswith("CAREWATCH_"):
            monkeypatch.delenv(name)


# --- parse_mqtt_url ------------------------------------------------------------------------

GOOD_URLS: list[tuple[str, MqttEndpoint]] = [
    ("mqtt://ingest:pw@broker.example:1884", MqttEndpoint("broker.example", 1884, "ingest", "pw")),
    ("mqtt://ingest:pw@broker.example", MqttEndpoint("broker.example", 1883, "ingest", "pw")),
    (
        "mqtts://ingest:pw@broker.example",
        MqttEndpoint("broker.example", 8883, "ingest", "pw", True),
    ),
    (
        "mqtts://ingest:pw@broker.example:9883",
        MqttEndpoint("broker.example", 9883, "ingest", "pw", True),
    ),
    ("mqtt://u%40site:p%3Aw%2F%40%25@10.0.0.5", MqttEndpoint("10.0.0.5", 1883, "u@site", "p:w/@%")),
    ("mqtt://ingest:pw@[::1]:1883", MqttEndpoint("::1", 1883, "ingest", "pw")),
]


@pytest.mark.parametrize(
    ("url", "endpoint"),
    GOOD_URLS,
    ids=["mqtt-port", "mqtt-default-port", "mqtts-default-port", "mqtts-port", "encoded", "ipv6"],
)
def test_parse_mqtt_url(url: str, endpoint: MqttEndpoint) -> None:
    assert parse_mqtt_url(url) == endpoint


BAD_URLS: list[tuple[str, str]] = [
    ("http://ingest:hunter2@broker:1883", "mqtt://"),
    ("tcp://ingest:hunter2@broker:1883", "mqtt://"),
    ("ws://ingest:hunter2@broker:1883", "mqtt://"),
    ("broker:1883", "mqtt://"),
    ("", "mqtt://"),
    ("mqtt://broker:1883", "user"),
    ("mqtt://ingest@broker:1883", "password"),
    ("mqtt://:hunter2@broker:1883", "user"),
    ("mqtt://ingest:hunter2@:1883", "host"),
    ("mqtt://ingest:hunter2@broker:port", "port"),
    ("mqtt://ingest:hunter2@broker:70000", "port"),
]


@pytest.mark.parametrize(
    ("url", "mentions"),
    BAD_URLS,
    ids=[
        "http",
        "tcp",
        "ws",
        "no-scheme",
        "empty",
        "no-credentials",
        "no-password",
        "empty-user",
        "no-host",
        "port-not-a-number",
        "port-out-of-range",
    ],
)
def test_parse_mqtt_url_rejects_with_config_error(url: str, mentions: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mqtt_url(url)
    assert mentions in str(caught.value)
    assert "hunter2" not in str(caught.value)  # the message may end up in logs


def test_endpoint_repr_hides_the_password() -> None:
    endpoint = parse_mqtt_url("mqtts://ingest:s3cr3t-pa55@broker.example")
    for shown in (repr(endpoint), str(endpoint), f"{endpoint}", repr([endpoint])):
        assert "s3cr3t-pa55" not in shown
        assert "ingest@broker.example:8883" in shown


# --- secrets file --------------------------------------------------------------------------


def test_load_or_create_secrets_creates_a_private_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "not-yet"
    created = load_or_create_secrets(data_dir)
    path = data_dir / SECRETS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(created) == set(SECRET_NAMES)
    assert all(len(value) >= 32 for value in created.values())
    assert len(set(created.values())) == len(SECRET_NAMES)
    assert json.loads(path.read_text()) == created


def test_load_or_create_secrets_returns_the_same_secrets_again(tmp_path: Path) -> None:
    first = load_or_create_secrets(tmp_path)
    assert load_or_create_secrets(tmp_path) == first
    assert read_secrets(tmp_path) == first


def test_two_deployments_get_different_secrets(tmp_path: Path) -> None:
    a, b = load_or_create_secrets(tmp_path / "a"), load_or_create_secrets(tmp_path / "b")
    assert not set(a.values()) & set(b.values())


def full_secrets() -> dict[str, object]:
    return {name: f"value-of-{name}" for name in SECRET_NAMES}


BROKEN_FILES: list[tuple[str, str]] = [
    (json.dumps({k: v for k, v in full_secrets().items() if k != "pg_password"}), "pg_password"),
    (json.dumps({**full_secrets(), "api_admin_token": None}), "api_admin_token"),
    (json.dumps({**full_secrets(), "mqtt_ingest_password": 12345}), "mqtt_ingest_password"),
    (json.dumps({}), "pg_password"),
    (json.dumps(full_secrets())[:40], SECRETS_FILE),
    (json.dumps(list(SECRET_NAMES)), SECRETS_FILE),
]


@pytest.mark.parametrize(
    ("content", "mentions"),
    BROKEN_FILES,
    ids=["missing-key", "null-value", "non-string", "empty-object", "truncated", "not-an-object"],
)
def test_broken_secrets_file_is_a_config_error(tmp_path: Path, content: str, mentions: str) -> None:
    (tmp_path / SECRETS_FILE).write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_or_create_secrets(tmp_path)
    assert mentions in str(caught.value)
    # The broken file is never replaced by fresh secrets: that would lock out the data.
    assert (tmp_path / SECRETS_FILE).read_text() == content


def test_read_secrets_without_a_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_secrets(tmp_path)
    assert str(tmp_path / SECRETS_FILE) in str(caught.value)
    assert not (tmp_path / SECRETS_FILE).exists()  # reading never creates


def first_release_secrets() -> dict[str, str]:
    return {name: f"value-of-{name}" for name in FIRST_SECRET_NAMES}


def test_an_older_secrets_file_gets_the_role_passwords_added(tmp_path: Path) -> None:
    old = first_release_secrets()
    path = tmp_path / SECRETS_FILE
    path.write_text(json.dumps(old))
    path.chmod(0o600)
    upgraded = load_or_create_secrets(tmp_path)
    assert set(upgraded) == set(SECRET_NAMES)
    assert {k: upgraded[k] for k in old} == old  # the existing secrets are kept as they were
    assert all(len(upgraded[name]) >= 32 for name in ROLE_SECRET_NAMES)
    assert json.loads(path.read_text()) == upgraded
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secrets(tmp_path) == upgraded  # added once, then stable
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRETS_FILE]  # no staging left


def test_a_role_url_from_an_older_secrets_file_says_how_to_upgrade(tmp_path: Path) -> None:
    (tmp_path / SECRETS_FILE).write_text(json.dumps(first_release_secrets()))
    settings = Settings(data_dir=tmp_path)
    assert database_url(settings).startswith("postgresql://carewatch:value-of-pg_password@")
    with pytest.raises(ConfigError) as caught:
        database_url(settings, "ingest")
    assert "pg_ingest_password" in str(caught.value) and "carewatch up" in str(caught.value)
    assert set(read_secrets(tmp_path)) == set(FIRST_SECRET_NAMES)  # reading never adds


# --- URLs and tokens from Settings ---------------------------------------------------------


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_each_service_has_its_own_local_role(tmp_path: Path, role: ServiceRole) -> None:
    settings = Settings(data_dir=tmp_path, pg_port=54999)
    password = load_or_create_secrets(tmp_path)[f"pg_{role}_password"]
    assert database_url(settings, role) == (
        f"postgresql://carewatch_{role}:{password}@127.0.0.1:54999/carewatch"
    )


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_external_role_urls_fall_back_to_the_owner_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: ServiceRole
) -> None:
    monkeypatch.setenv("CAREWATCH_DATABASE_URL", "postgresql://owner:pw@db.example/carewatch")
    assert database_url(Settings(data_dir=tmp_path), role) == (
        "postgresql://owner:pw@db.example/carewatch"
    )
    own = f"postgresql://carewatch_{role}:pw@db.example/carewatch"
    monkeypatch.setenv(f"CAREWATCH_{role.upper()}_DATABASE_URL", own)
    settings = Settings(data_dir=tmp_path)
    assert database_url(settings, role) == own
    assert database_url(settings) == "postgresql://owner:pw@db.example/carewatch"
    others = [r for r in SERVICE_ROLES if r != role]
    assert all(database_url(settings, r).startswith("postgresql://owner:") for r in others)
    assert not (tmp_path / SECRETS_FILE).exists()


def test_database_url_in_local_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, pg_port=54999)
    password = load_or_create_secrets(tmp_path)["pg_password"]
    assert settings.local_database
    assert database_url(settings) == (
        f"postgresql://carewatch:{password}@127.0.0.1:54999/carewatch"
    )


def test_database_url_external_is_used_as_given(tmp_path: Path) -> None:
    url = "postgresql://app:pw@db.example:5432/carewatch"
    settings = Settings(data_dir=tmp_path, database_url=SecretStr(url))
    assert not settings.local_database
    assert database_url(settings) == url
    assert not (tmp_path / SECRETS_FILE).exists()  # no local secret is generated or read


def test_database_url_in_local_mode_without_secrets_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        database_url(Settings(data_dir=tmp_path))


def test_admin_token_outside_local_mode_must_be_set(tmp_path: Path) -> None:
    load_or_create_secrets(tmp_path)  # even with a local secret lying around
    settings = Settings(
        data_dir=tmp_path, database_url=SecretStr("postgresql://app:pw@db.example/carewatch")
    )
    with pytest.raises(ConfigError) as caught:
        admin_token(settings)
    assert "CAREWATCH_ADMIN_TOKEN" in str(caught.value)


@pytest.mark.parametrize("external_db", [False, True], ids=["local", "external"])
def test_admin_token_given_is_used(tmp_path: Path, external_db: bool) -> None:
    settings = Settings(
        data_dir=tmp_path,
        admin_token=SecretStr("explicit-token"),
        database_url=SecretStr("postgresql://app:pw@db.example/x") if external_db else None,
    )
    assert admin_token(settings) == "explicit-token"


def test_admin_token_in_local_mode_is_the_generated_one(tmp_path: Path) -> None:
    token = load_or_create_secrets(tmp_path)["api_admin_token"]
    assert admin_token(Settings(data_dir=tmp_path)) == token


def test_admin_token_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREWATCH_ADMIN_TOKEN", "from-env")
    settings = Settings(data_dir=tmp_path, database_url=SecretStr("postgresql://a:b@c/d"))
    assert admin_token(settings) == "from-env"


def test_external_broker_needs_an_admin_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mqtt_url=SecretStr("mqtt://ingest:pw@broker"))
    with pytest.raises(ConfigError) as caught:
        mqtt_admin_endpoint(settings)
    assert "CAREWATCH_MQTT_ADMIN_URL" in str(caught.value)


# --- a process given only its own role's URL (deploy/env/*.env) ----------------------------


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_a_role_url_alone_is_not_local_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: ServiceRole
) -> None:
    own = f"postgresql://carewatch_{role}:pw@db.example/carewatch"
    monkeypatch.setenv(f"CAREWATCH_{role.upper()}_DATABASE_URL", own)
    settings = Settings(data_dir=tmp_path)
    assert not settings.local_database
    assert database_url(settings, role) == own


@pytest.mark.parametrize("role", SERVICE_ROLES)
def test_the_owner_url_is_never_taken_from_local_secrets_beside_a_role_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: ServiceRole
) -> None:
    load_or_create_secrets(tmp_path)  # a stray local secrets file must not be used
    monkeypatch.setenv(
        f"CAREWATCH_{role.upper()}_DATABASE_URL", f"postgresql://carewatch_{role}:pw@db/x"
    )
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ConfigError) as caught:
        database_url(settings)
    assert "CAREWATCH_DATABASE_URL" in str(caught.value) and "owner" in str(caught.value)
    for other in (r for r in SERVICE_ROLES if r != role):
        with pytest.raises(ConfigError) as caught:
            database_url(settings, other)
        assert f"CAREWATCH_{other.upper()}_DATABASE_URL" in str(caught.value)


def test_the_owner_url_alone_needs_no_secrets_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        database_url(
            Settings(data_dir=tmp_path, api_database_url=SecretStr("postgresql://a:b@c/d"))
        )
    assert SECRETS_FILE not in str(caught.value)  # not "run carewatch up": that is local mode


def test_admin_token_beside_only_a_role_url_must_be_set(tmp_path: Path) -> None:
    load_or_create_secrets(tmp_path)
    settings = Settings(
        data_dir=tmp_path, alerts_database_url=SecretStr("postgresql://carewatch_alerts:pw@db/x")
    )
    with pytest.raises(ConfigError) as caught:
        admin_token(settings)
    assert "CAREWATCH_ADMIN_TOKEN" in str(caught.value)


def test_an_admin_url_alone_is_an_external_broker(tmp_path: Path) -> None:
    """The owner's file (backups, `device add`) holds the admin account, not the ingest one."""
    load_or_create_secrets(tmp_path)
    settings = Settings(data_dir=tmp_path, mqtt_admin_url=SecretStr("mqtt://admin:pw@broker"))
    assert not settings.local_broker
    assert mqtt_admin_endpoint(settings).username == "admin"
    with pytest.raises(ConfigError) as caught:
        mqtt_ingest_endpoint(settings)
    assert "CAREWATCH_MQTT_URL" in str(caught.value)
    assert Settings(data_dir=tmp_path).local_broker
