"""The demo ward's devices, which only the simulator plays: one wearable and one bed sensor
per demo resident (and the family-bed resident), provisioned like any other (broker account
+ hashed secret). Their passwords, which the simulator needs, are kept in
`<data_dir>/demo-devices.json` with mode 0600. The demo's site, residents and people are
`services.operations.local.demo`'s."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from psycopg import AsyncConnection

from device_sim.control import CONTROL_SOCKET, ControlServer, in_use
from device_sim.devices import SimDevice, load_devices, save_devices
from device_sim.errors import DevicesInUse
from services.devices import repo
from services.devices.provisioning import assign_device, provision_device
from services.operations.broker.dynsec import DynsecAccounts
from services.operations.local.demo import HOME_SITE, SITE, UNIT, ensure_home_resident
from services.settings import Settings, database_url, mqtt_admin_endpoint

log = logging.getLogger("carewatch.demo")

SimKind = Literal["wearable", "bed_sensor"]
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


async def ensure_demo_ward(
    settings: Settings, residents: int, *, family_bed: bool = True
) -> list[SimDevice]:
    """At least `residents` demo residents with their devices, and (`family_bed`) the
    family-bed resident with theirs; existing ones are reused."""
    path = devices_file(settings)
    devices = load_devices(path) if path.exists() else []
    have = len({d.resident_key for d in devices if d.site_id == SITE})
    broker = DynsecAccounts(mqtt_admin_endpoint(settings))

    async def add_devices(conn: AsyncConnection, resident_id: int, site: str, name: str) -> None:
        kinds: tuple[tuple[str, SimKind], ...] = (("w", "wearable"), ("b", "bed_sensor"))
        for prefix, kind in kinds:
            issued = await provision_device(
                conn, broker, device_id=name.format(prefix), site_id=site, kind=kind
            )
            await assign_device(
                conn,
                device_id=issued.device_id,
                resident_id=resident_id,
                at=datetime(2000, 1, 1, tzinfo=UTC),
            )
            devices.append(
                SimDevice(issued.device_id, site, kind, issued.password, f"r{resident_id}")
            )
        save_devices(path, devices)

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
            await add_devices(conn, resident_id, SITE, f"demo-{{}}{i:03d}")
        if family_bed and not any(d.site_id == HOME_SITE for d in devices):
            home = await ensure_home_resident(conn)
            await add_devices(conn, home, HOME_SITE, "demo-h{}000")
    ward = sorted({d.resident_key for d in devices if d.site_id == SITE}, key=lambda k: int(k[1:]))
    keys = set(ward[:residents])
    if family_bed:
        keys.update(d.resident_key for d in devices if d.site_id == HOME_SITE)
    return [d for d in devices if d.resident_key in keys]


def control_path(settings: Settings) -> Path:
    """Where the demo ward's simulator takes `carewatch demo event` requests."""
    return Path(settings.data_dir).resolve() / CONTROL_SOCKET


def claim_demo_ward(
    settings: Settings, devices: list[SimDevice], *, live: bool
) -> ControlServer | None:
    """The demo ward's control socket, held while a simulator runs its devices: it takes
    demo events (`live`: the live ward; a scenario refuses them) and shows a second simulator
    that the devices are taken. Each device connects with client id = device id, so two
    simulators of the same devices would knock each other off the broker every second.
    None (with a warning) when the socket cannot be made."""
    path = control_path(settings)
    if in_use(path):
        raise DevicesInUse(
            "the demo ward's devices are already simulated (by `carewatch up` or another "
            "`carewatch sim`); a device has one MQTT connection, so a second simulator would "
            "knock the first off the broker. Stop that one (or start `carewatch up --no-sim`), "
            "or give this one its own devices with --devices FILE"
        )
    residents: dict[str, list[str]] = {}
    # The nursing home's residents first (the default for `demo event`), the family bed last.
    for d in sorted(devices, key=lambda d: (d.site_id != SITE, int(d.resident_key[1:]))):
        residents.setdefault(d.resident_key, []).append(d.device_id)
    refuse = None if live else "this simulator plays a scenario: demo events need the live ward"
    try:
        return ControlServer(path, residents, refuse=refuse)
    except OSError as exc:
        # E.g. a data dir path too long for a Unix socket (about 100 bytes): the demo still
        # runs, only without demo events and without the guard against a second simulator.
        log.warning("no demo events: cannot open the control socket %s (%s)", path, exc)
        return None
