"""Bench-only bulk provisioning for thousands of devices: broker accounts written into the
dynamic-security file while the broker is stopped, database rows by COPY.

Why not `provision_device` 10,000 times (bench/load.py's docstring has the figures): it
hashes each password with PBKDF2-SHA512 at 210,000 iterations for `devices.secret_hash`
(~0.17 s of CPU each), and Mosquitto 2.0's dynamic-security plugin rewrites its whole JSON
file after every command, so each account costs more the more there are. Here the accounts
are the same (one per device, its own random password, its own role allowing only its own
topics, hashed as the broker hashes them) and the rows are the same except `secret_hash`,
which nothing on the data path reads: it is a salted PBKDF2 at the broker's 101 iterations.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.alert_stream import resident_name
from bench.common import MESSAGING_CONSENT_SQL
from bench.load_plan import SITE, device_ids, site_of
from device_sim.devices import SimDevice
from services.operations.broker.acl import (
    device_client,
    device_role,
    device_role_acls,
    hashed_client,
)
from services.operations.local.mosquitto import EmbeddedMosquitto
from services.settings import Settings, database_url

UNIT = "ward"
ASSIGNED_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def new_devices(count: int, sites: Sequence[str] = (SITE,)) -> list[tuple[SimDevice, SimDevice]]:
    """A wearable and a bed sensor per resident index, each with its own password, at the
    resident's site."""
    out = []
    for index in range(count):
        wearable, bed = device_ids(index)
        key, site = str(index), site_of(index, sites)
        out.append(
            (
                SimDevice(wearable, site, "wearable", secrets.token_urlsafe(24), key),
                SimDevice(bed, site, "bed_sensor", secrets.token_urlsafe(24), key),
            )
        )
    return out


def add_broker_accounts(mosquitto: EmbeddedMosquitto, devices: Sequence[SimDevice]) -> None:
    """Add the devices' accounts to the stopped broker's dynamic-security file."""
    path = mosquitto.dynsec_file
    config: dict[str, Any] = json.loads(path.read_text())
    for device in devices:
        role = device_role(device.device_id)
        config["roles"].append({"rolename": role, "acls": device_role_acls(device.device_id)})
        config["clients"].append(device_client(device.device_id, device.password))
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out)
    os.replace(tmp, path)
    mosquitto.run_as.own(mosquitto.root)


def add_rows(settings: Settings, pairs: Sequence[tuple[SimDevice, SimDevice]]) -> list[int]:
    """Residents (named as the alert bench names them), devices and assignments; returns the
    resident ids by index."""
    with psycopg.connect(database_url(settings)) as conn:
        for site in sorted({wearable.site_id for wearable, _ in pairs}):
            conn.execute(
                "INSERT INTO sites (site_id, name) VALUES (%s, 'Load bench')"
                " ON CONFLICT DO NOTHING",
                [site],
            )
            conn.execute(
                "INSERT INTO units (site_id, unit_id, name) VALUES (%s, %s, 'Ward')"
                " ON CONFLICT DO NOTHING",
                [site, UNIT],
            )
        names = [resident_name(i) for i in range(len(pairs))]
        by_name = {
            str(name): int(rid)
            for rid, name in conn.execute(
                "INSERT INTO residents (site_id, unit_id, display_name)"
                " SELECT unnest(%s::text[]), %s, unnest(%s::text[])"
                " RETURNING resident_id, display_name",
                [[wearable.site_id for wearable, _ in pairs], UNIT, names],
            )
        }
        ids = [by_name[name] for name in names]
        conn.execute(MESSAGING_CONSENT_SQL, [ids])
        with conn.cursor().copy(
            "COPY devices (device_id, site_id, kind, secret_hash) FROM STDIN"
        ) as copy:
            for pair in pairs:
                for d in pair:
                    h = hashed_client(d.device_id, d.password, [])
                    secret = f"pbkdf2_sha512${h['iterations']}${h['salt']}${h['password']}"
                    copy.write_row((d.device_id, d.site_id, d.kind, secret))
        with conn.cursor().copy(
            "COPY device_assignments (device_id, resident_id, during) FROM STDIN"
        ) as copy:
            for resident_id, pair in zip(ids, pairs, strict=True):
                for d in pair:
                    copy.write_row((d.device_id, resident_id, f"[{ASSIGNED_FROM.isoformat()},)"))
        conn.commit()
    return ids
