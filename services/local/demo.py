"""The demo ward: one site, one unit, N residents each with a wearable and a bed sensor.

Devices are provisioned like any other (broker account + hashed secret); their passwords,
which the simulator needs, are kept in `<data_dir>/demo-devices.json` with mode 0600.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from psycopg import AsyncConnection

from device_sim.devices import SimDevice, load_devices, save_devices
from services.broker.dynsec import DynsecAccounts
from services.devices import repo
from services.devices.provisioning import assign_device, provision_device
from services.settings import Settings, database_url, mqtt_admin_endpoint

SimKind = Literal["wearable", "bed_sensor"]
SITE = "demo"
UNIT = "A"
DEVICES_FILE = "demo-devices.json"
NAMES = (
    "Wang Fang",
    "Li Wei",
    "Zhang Min",
    "Liu Yang",
    "Chen Jing",
    "Yang Lei",
    "Zhao Li",
    "Huang Qiang",
    "Zhou Xiu",
    "Wu Hua",
    "Xu Ping",
    "Sun Lan",
)


def devices_file(settings: Settings) -> Path:
    return Path(settings.data_dir).resolve() / DEVICES_FILE


async def ensure_demo_ward(settings: Settings, residents: int) -> list[SimDevice]:
    """At least `residents` demo residents with their devices; existing ones are reused."""
    path = devices_file(settings)
    devices = load_devices(path) if path.exists() else []
    have = len({d.resident_key for d in devices})
    broker = DynsecAccounts(mqtt_admin_endpoint(settings))
    async with await AsyncConnection.connect(database_url(settings), autocommit=True) as conn:
        await repo.ensure_site(conn, site_id=SITE, name="Demo nursing home")
        await repo.ensure_unit(conn, site_id=SITE, unit_id=UNIT, name="Unit A")
        for i in range(have, residents):
            resident_id = await repo.create_resident(
                conn,
                site_id=SITE,
                unit_id=UNIT,
                display_name=NAMES[i % len(NAMES)],
                room=f"{101 + i // 2}",
                bed="AB"[i % 2],
            )
            kinds: tuple[tuple[str, SimKind], ...] = (("w", "wearable"), ("b", "bed_sensor"))
            for prefix, kind in kinds:
                issued = await provision_device(
                    conn, broker, device_id=f"demo-{prefix}{i:03d}", site_id=SITE, kind=kind
                )
                await assign_device(
                    conn,
                    device_id=issued.device_id,
                    resident_id=resident_id,
                    at=datetime(2000, 1, 1, tzinfo=UTC),
                )
                devices.append(
                    SimDevice(issued.device_id, SITE, kind, issued.password, f"r{resident_id}")
                )
            save_devices(path, devices)
    keys = sorted({d.resident_key for d in devices}, key=lambda k: int(k[1:]))[:residents]
    return [d for d in devices if d.resident_key in keys]
