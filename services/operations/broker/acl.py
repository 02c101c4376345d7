"""Who may do what on the broker, as dynamic-security roles (pure data, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from rules.vocabulary import DATA_FILTER, SERVICE_CLIENT_PREFIX, TOPIC_PREFIX, is_service_client_id
from services.errors import ConfigError

ADMIN_ROLE = "carewatch-admin"
INGEST_ROLE = "carewatch-ingest"
DATA_TOPICS = DATA_FILTER
# Mosquitto checks a shared subscription's whole filter, `$share/GROUP/...`, against the ACLs:
# ingest workers sharing the stream (docs/scaling.md) need it allowed in its own right.
SHARED_DATA_TOPICS = f"$share/+/{DATA_FILTER}"
CONTROL_TOPICS = "$CONTROL/dynamic-security/#"
# Mosquitto's own scheme for dynamic-security passwords: PBKDF2-HMAC-SHA512 over a random salt.
PBKDF2_ITERATIONS = 101


def device_role(device_id: str) -> str:
    return f"device-{device_id}"


def device_publish_pattern(device_id: str) -> str:
    """A device publishes under its own id in any site; the ingest worker checks the site."""
    return f"{TOPIC_PREFIX}/+/{device_id}/#"


def acl(acltype: str, topic: str, *, allow: bool = True) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "allow": allow}


def device_role_acls(device_id: str) -> list[dict[str, Any]]:
    return [acl("publishClientSend", device_publish_pattern(device_id))]


def check_service_client_id(client_id: str, option: str) -> None:
    """A service's client id must be in the reserved range: under any other id, a device
    provisioned with that id could connect and take the service's session over."""
    if not is_service_client_id(client_id):
        raise ConfigError(
            f"{option} {client_id!r} must start with {SERVICE_CLIENT_PREFIX!r}: other client "
            "ids may belong to devices (docs/security.md)"
        )


def device_client(device_id: str, password: str) -> dict[str, Any]:
    """A device's account, bound to client id = its device id: with the id bound, the broker
    refuses the account under any other id, so a device can neither take over a service's
    session (and its queued readings) nor another device's."""
    return {**hashed_client(device_id, password, [device_role(device_id)]), "clientid": device_id}


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

    Nobody may publish, subscribe or receive unless a role allows it: devices can never
    subscribe, and would receive nothing even with a subscription (say, a session obtained
    some other way).
    """
    return {
        "defaultACLAccess": dict(DEFAULT_ACCESS),
        "clients": [
            hashed_client(admin_user, admin_password, [ADMIN_ROLE]),
            hashed_client(ingest_user, ingest_password, [INGEST_ROLE]),
        ],
        "groups": [],
        "roles": [
            {"rolename": ADMIN_ROLE, "acls": list(ADMIN_ACLS)},
            {"rolename": INGEST_ROLE, "acls": list(INGEST_ACLS)},
        ],
    }


DEFAULT_ACCESS: dict[str, bool] = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}
ADMIN_ACLS = (
    acl("publishClientSend", CONTROL_TOPICS),
    acl("publishClientReceive", CONTROL_TOPICS),
    acl("subscribePattern", CONTROL_TOPICS),
    acl("subscribePattern", DATA_TOPICS),
    acl("publishClientReceive", DATA_TOPICS),  # `carewatch device check` watches the stream
    acl("subscribePattern", "$SYS/#"),
    acl("publishClientReceive", "$SYS/#"),
)
# The ingest account is also the detector's (CAREWATCH_MQTT_URL): both receive the stream.
# It may publish on it for one thing: clearing a retained message a device must not leave
# (an empty retained publish; docs/ingest.md, "Retained messages").
INGEST_ACLS = (
    acl("subscribePattern", DATA_TOPICS),
    acl("subscribePattern", SHARED_DATA_TOPICS),
    acl("publishClientReceive", DATA_TOPICS),
    acl("publishClientSend", DATA_TOPICS),
)


def upgrade_config(config: dict[str, Any]) -> bool:
    """Bring a dynamic-security config written by an older release up to this one's rules, in
    place; True when anything changed. Receiving is denied by default, the service roles get
    the ACLs they now need, and every device account (a client holding its `device-ID` role)
    is bound to client id = its username. Other clients and ACLs are left as they are."""
    changed = False
    access = config.setdefault("defaultACLAccess", {})
    for key, allowed in DEFAULT_ACCESS.items():
        if access.get(key) is not allowed:
            access[key] = allowed
            changed = True
    wanted = {ADMIN_ROLE: ADMIN_ACLS, INGEST_ROLE: INGEST_ACLS}
    for role in config.get("roles", []):
        for entry in wanted.get(role.get("rolename"), ()):
            acls = role.setdefault("acls", [])
            if not any(_same_acl(entry, have) for have in acls):
                acls.append(dict(entry))
                changed = True
    for client in config.get("clients", []):
        username = client.get("username")
        roles = {r.get("rolename") for r in client.get("roles", [])}
        is_device = isinstance(username, str) and device_role(username) in roles
        if is_device and client.get("clientid") != username:
            client["clientid"] = username
            changed = True
    return changed


def _same_acl(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a["acltype"] == b.get("acltype") and a["topic"] == b.get("topic"))
