"""The broker's dynamic-security config in a backup (pure, no I/O).

It holds every device account (PBKDF2 hashes, never passwords) and its ACL roles. The accounts
CareWatch itself logs in with belong to the deployment restored into, not to the backup: on
restore they get the target's passwords, so the services can log in with their own secrets.
"""

from __future__ import annotations

import json
from typing import Any

from services.operations.backup.errors import BadArchive
from services.operations.broker.acl import hashed_client
from services.settings import MqttEndpoint


def parse_dynsec(text: bytes) -> dict[str, Any]:
    try:
        config: Any = json.loads(text)
    except ValueError:
        raise BadArchive("the backup's broker config is not valid JSON (corrupt backup)") from None
    if not isinstance(config, dict) or not isinstance(config.get("clients"), list):
        raise BadArchive("the backup's broker config has no client list (corrupt backup)")
    return config


def client_count(config: dict[str, Any]) -> int:
    return len(config["clients"])


def with_service_accounts(
    config: dict[str, Any], accounts: list[MqttEndpoint]
) -> tuple[dict[str, Any], list[str]]:
    """`config` with each of `accounts` given its password (roles kept); returns the new config
    and the usernames it lacked (those stay absent: the caller says so)."""
    clients = [dict(c) for c in config["clients"]]
    missing = []
    for account in accounts:
        for i, client in enumerate(clients):
            if client.get("username") == account.username:
                roles = [r["rolename"] for r in client.get("roles", []) if "rolename" in r]
                fresh = hashed_client(account.username, account.password, roles)
                # Keep whatever else the client carries (groups, text names, disabled flag).
                clients[i] = {**client, **fresh, "roles": client.get("roles", fresh["roles"])}
                break
        else:
            missing.append(account.username)
    return {**config, "clients": clients}, missing
