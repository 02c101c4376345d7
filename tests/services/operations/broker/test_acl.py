"""Tests for services.operations.broker.acl: closed defaults, narrow roles, Mosquitto-compatible
hashes."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from rules.vocabulary import is_service_client_id
from services.operations.broker.acl import (
    ADMIN_ROLE,
    DATA_TOPICS,
    INGEST_ROLE,
    device_client,
    device_publish_pattern,
    device_role,
    device_role_acls,
    hashed_client,
    initial_config,
    upgrade_config,
)

PASSWORDS = {"admin": "admin-pw-Xq7", "ingest": "ingest-pw-Zr9"}


@pytest.fixture
def config() -> dict[str, Any]:
    return initial_config(
        admin_user="admin",
        admin_password=PASSWORDS["admin"],
        ingest_user="ingest",
        ingest_password=PASSWORDS["ingest"],
    )


def role(config: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [r for r in config["roles"] if r["rolename"] == name]
    assert len(found) == 1, name
    return found[0]


def client(config: dict[str, Any], username: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in config["clients"] if c["username"] == username]
    assert len(found) == 1, username
    return found[0]


@pytest.mark.parametrize(
    ("access", "allowed"),
    [("publishClientSend", False), ("subscribe", False), ("publishClientReceive", False)],
    ids=["no-publish", "no-subscribe", "no-receive"],
)
def test_defaults_are_closed(config: dict[str, Any], access: str, allowed: bool) -> None:
    assert config["defaultACLAccess"][access] is allowed


def test_ingest_role_may_only_use_the_data_topics(config: dict[str, Any]) -> None:
    assert DATA_TOPICS == "carewatch/v1/#"
    assert role(config, INGEST_ROLE)["acls"] == [
        {"acltype": "subscribePattern", "topic": "carewatch/v1/#", "allow": True},
        # the same stream through an MQTT 5 shared subscription (several workers)
        {"acltype": "subscribePattern", "topic": "$share/+/carewatch/v1/#", "allow": True},
        # receiving is denied by default: the service roles are granted it
        {"acltype": "publishClientReceive", "topic": "carewatch/v1/#", "allow": True},
        # clearing a retained message a device must not leave
        {"acltype": "publishClientSend", "topic": "carewatch/v1/#", "allow": True},
    ]
    assert client(config, "ingest")["roles"] == [{"rolename": INGEST_ROLE}]


def test_admin_has_only_the_admin_role(config: dict[str, Any]) -> None:
    assert client(config, "admin")["roles"] == [{"rolename": ADMIN_ROLE}]
    assert {r["rolename"] for r in config["roles"]} == {ADMIN_ROLE, INGEST_ROLE}


@pytest.mark.parametrize("username", ["admin", "ingest"])
def test_config_passwords_verify_with_pbkdf2_sha512(config: dict[str, Any], username: str) -> None:
    entry = client(config, username)
    digest = hashlib.pbkdf2_hmac(
        "sha512",
        PASSWORDS[username].encode(),
        base64.b64decode(entry["salt"]),
        entry["iterations"],
    )
    assert base64.b64encode(digest).decode() == entry["password"]


def test_config_never_holds_a_plain_password(config: dict[str, Any]) -> None:
    text = json.dumps(config)
    assert all(password not in text for password in PASSWORDS.values())


def test_hashed_client_verifies_and_rejects_a_wrong_password() -> None:
    entry = hashed_client("dev-1", "correct horse", ["r1", "r2"])
    salt, iterations = base64.b64decode(entry["salt"]), entry["iterations"]
    stored = base64.b64decode(entry["password"])

    def pbkdf2(password: str) -> bytes:
        return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)

    assert pbkdf2("correct horse") == stored
    assert pbkdf2("correct horsE") != stored
    assert len(stored) == 64  # SHA-512
    assert len(salt) >= 12
    assert entry["username"] == "dev-1"
    assert entry["roles"] == [{"rolename": "r1"}, {"rolename": "r2"}]


def test_hashed_client_salts_every_hash() -> None:
    a, b = hashed_client("u", "same", []), hashed_client("u", "same", [])
    assert a["salt"] != b["salt"]
    assert a["password"] != b["password"]


def test_device_role_acls_allow_publishing_under_the_device_only() -> None:
    assert device_role_acls("dev-1") == [
        {"acltype": "publishClientSend", "topic": "carewatch/v1/+/dev-1/#", "allow": True}
    ]
    assert device_publish_pattern("dev-1") == "carewatch/v1/+/dev-1/#"
    assert device_role("dev-1") != device_role("dev-2")


# What the device role's pattern lets device `dev-1` publish to (the broker's own matching).
PUBLISH: list[tuple[str, bool]] = [
    ("carewatch/v1/t1/dev-1/vitals", True),
    ("carewatch/v1/other-site/dev-1/status", True),  # the ingest worker checks the site
    ("carewatch/v1/t1/dev-1/vitals/extra", True),
    ("carewatch/v1/t1/dev-2/vitals", False),
    ("carewatch/v1/t1/dev-10/vitals", False),
    ("carewatch/v1/t1/xdev-1/vitals", False),
    ("carewatch/v1/dev-1/vitals", False),
    ("carewatch/v2/t1/dev-1/vitals", False),
    ("$CONTROL/dynamic-security/v1", False),
]


@pytest.mark.parametrize(
    ("topic", "allowed"),
    PUBLISH,
    ids=[
        "own-topic",
        "other-site",
        "deeper",
        "other-device",
        "longer-id",
        "prefixed-id",
        "missing-site-level",
        "other-version",
        "dynsec-control",
    ],
)
def test_device_publish_pattern_matches(topic: str, allowed: bool) -> None:
    (entry,) = device_role_acls("dev-1")
    assert mqtt.topic_matches_sub(entry["topic"], topic) is allowed


def test_a_device_account_is_bound_to_its_device_id() -> None:
    entry = device_client("dev-1", "pw")
    assert entry["clientid"] == "dev-1" and entry["username"] == "dev-1"
    assert entry["roles"] == [{"rolename": device_role("dev-1")}]


@pytest.mark.parametrize(
    ("client_id", "service"),
    [
        ("carewatch-ingest", True),
        ("carewatch-ingest-3", True),
        ("carewatch-detector-site_a", True),
        ("carewatch-admin-1f2e", True),
        ("CareWatch-Ingest", True),
        ("carewatchdog", True),  # the whole prefix is reserved, not only what exists today
        ("wrist-0042", False),
        ("my-carewatch-1", False),
    ],
)
def test_service_client_ids(client_id: str, service: bool) -> None:
    assert is_service_client_id(client_id) is service


def old_config() -> dict[str, Any]:
    """What the release before client-id binding wrote, with one device provisioned."""
    config = initial_config(
        admin_user="admin", admin_password="a", ingest_user="ingest", ingest_password="i"
    )
    config["defaultACLAccess"]["publishClientReceive"] = True
    role(config, INGEST_ROLE)["acls"] = role(config, INGEST_ROLE)["acls"][:2]
    role(config, ADMIN_ROLE)["acls"] = [
        a for a in role(config, ADMIN_ROLE)["acls"]
        if a["acltype"] != "publishClientReceive" or a["topic"].startswith("$CONTROL")
    ]  # fmt: skip
    config["roles"].append({"rolename": device_role("dev-1"), "acls": device_role_acls("dev-1")})
    config["clients"].append(hashed_client("dev-1", "pw", [device_role("dev-1")]))
    return config


def test_upgrade_binds_devices_and_denies_receiving() -> None:
    config = old_config()
    assert upgrade_config(config) is True
    assert config["defaultACLAccess"]["publishClientReceive"] is False
    assert client(config, "dev-1")["clientid"] == "dev-1"
    assert "clientid" not in client(config, "admin") and "clientid" not in client(config, "ingest")
    fresh = initial_config(
        admin_user="admin", admin_password="a", ingest_user="ingest", ingest_password="i"
    )
    for name in (ADMIN_ROLE, INGEST_ROLE):
        assert sorted(map(str, role(config, name)["acls"])) == sorted(
            map(str, role(fresh, name)["acls"])
        )
    assert role(config, device_role("dev-1"))["acls"] == device_role_acls("dev-1")
    assert upgrade_config(config) is False  # idempotent: a second start changes nothing
