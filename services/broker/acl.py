"""Who may do what on the broker, as dynamic-security roles (pure data, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

ADMIN_ROLE = "carewatch-admin"
INGEST_ROLE = "carewatch-ingest"
DATA_TOPICS = "carewatch/v1/#"
# Mosquitto checks a shared subscription's whole filter, `$share/GROUP/...`, against the ACLs:
# ingest workers sharing the stream (docs/scaling.md) need it allowed in its own right.
SHARED_DATA_TOPICS = "$share/+/carewatch/v1/#"
CONTROL_TOPICS = "$CONTROL/dynamic-security/#"
# Mosquitto's own scheme for dynamic-security passwords: PBKDF2-HMAC-SHA512 over a random salt.
PBKDF2_ITERATIONS = 101


def device_role(device_id: str) -> str:
    return f"device-{device_id}"


def device_publish_pattern(device_id: str) -> str:
    """A device publishes under its own id in any site; the ingest worker checks the site."""
    return f"carewatch/v1/+/{device_id}/#"


def acl(acltype: str, topic: str, *, allow: bool = True) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "allow": allow}


def device_role_acls(device_id: str) -> list[dict[str, Any]]:
    return [acl("publishClientSend", device_publish_pattern(device_id))]


def hashed_client(username: str, password: str, roles: list[str]) -> dict[str, Any]:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return {
        "username": username,
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": PBKDF2_ITERATIONS,
        "roles": [{"rolename": role} for role in roles],
    }


def initial_config(
    *, admin_user: str, admin_password: str, ingest_user: str, ingest_password: str
) -> dict[str, Any]:
    """The plugin's first config file: an administrator, the ingest worker, and closed defaults.

    Nobody may publish or subscribe unless a role allows it, so devices can never subscribe.
    """
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [
            hashed_client(admin_user, admin_password, [ADMIN_ROLE]),
            hashed_client(ingest_user, ingest_password, [INGEST_ROLE]),
        ],
        "groups": [],
        "roles": [
            {
                "rolename": ADMIN_ROLE,
                "acls": [
                    acl("publishClientSend", CONTROL_TOPICS),
                    acl("publishClientReceive", CONTROL_TOPICS),
                    acl("subscribePattern", CONTROL_TOPICS),
                    acl("subscribePattern", DATA_TOPICS),
                    acl("subscribePattern", "$SYS/#"),
                ],
            },
            {
                "rolename": INGEST_ROLE,
                "acls": [
                    acl("subscribePattern", DATA_TOPICS),
                    acl("subscribePattern", SHARED_DATA_TOPICS),
                ],
            },
        ],
    }
