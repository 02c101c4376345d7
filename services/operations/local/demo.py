"""The demo ward: one site, one unit, N residents each with a wearable and a bed sensor.

Devices are provisioned like any other (broker account + hashed secret); their passwords,
which the simulator needs, are kept in `<data_dir>/demo-devices.json` with mode 0600.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from psycopg import AsyncConnection

from device_sim.control import CONTROL_SOCKET, ControlServer, in_use
from device_sim.devices import SimDevice, load_devices, save_devices
from device_sim.errors import DevicesInUse
from services.auth.principal import Role
from services.careteam.roster import Role as TeamRole
from services.devices import repo
from services.devices.provisioning import assign_device, provision_device
from services.operations.broker.dynsec import DynsecAccounts
from services.settings import Settings, database_url, mqtt_admin_endpoint

log = logging.getLogger("carewatch.demo")

SimKind = Literal["wearable", "bed_sensor"]
SITE = "demo"
UNIT = "A"
HOME_SITE = "demo-home"  # family beds: residents at home, watched from a care station
HOME_UNIT = "home"
HOME_NAME = "Ma Lin (family bed)"
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


async def ensure_home_resident(conn: AsyncConnection) -> int:
    """The demo's family-bed resident: at home, watched by a community care station, with a
    family contact and a contracted family doctor in the care team."""
    await repo.ensure_site(conn, site_id=HOME_SITE, name="Demo family beds (home care)")
    await repo.ensure_unit(conn, site_id=HOME_SITE, unit_id=HOME_UNIT, name="Family beds")
    cur = await conn.execute(
        "SELECT resident_id FROM residents WHERE site_id = %s ORDER BY resident_id LIMIT 1",
        [HOME_SITE],
    )
    row = await cur.fetchone()
    if row is not None:
        return int(row[0])
    return await repo.create_resident(
        conn, site_id=HOME_SITE, unit_id=HOME_UNIT, display_name=HOME_NAME, room="home"
    )


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


USERS_FILE = "demo-users.json"
# username (also the care team id), display name, login role, care team role
DEMO_STAFF: tuple[tuple[str, str, Role, TeamRole], ...] = (
    ("demo-caregiver", "Li Na (caregiver)", "caregiver", "caregiver"),
    ("demo-nurse", "Wang Fang (charge nurse)", "nurse", "charge_nurse"),
    ("demo-doctor", "Dr Zhao (physician)", "physician", "physician"),
)


# The family bed's own contacts and the partner hospital, paged on the demo pager too.
DEMO_CONTACTS: tuple[tuple[str, str, TeamRole], ...] = (
    ("demo-family", "Ma Jun (son)", "family"),
    ("demo-gp", "Dr Sun (family doctor)", "family_doctor"),
)
HOSPITAL = ("demo-hospital", "Demo County People's Hospital")


def demo_care_team(pager: str, home_resident: int) -> dict[str, object]:
    """The demo's care team document: the staff on shift all day at the nursing home and for
    the family beds, the family-bed resident's son and family doctor (paged with the care
    station's caregiver, then the doctor), and a partner hospital for referrals; every
    channel the demo pager."""
    people = [(name, label, team) for name, label, _role, team in DEMO_STAFF]
    first_step = {"who": ["caregiver", "resident_family"], "timeout_s": 120}
    home_policy = {
        "steps": [
            {**first_step, "renotify_every_s": 60},
            {"who": ["charge_nurse", "family_doctor"], "renotify_every_s": 120},
        ]
    }
    return {
        "staff": [
            {"id": name, "name": label, "role": role, "channels": [f"{pager}/{name}"]}
            for name, label, role in (*people, *DEMO_CONTACTS)
        ],
        "shifts": [
            {"staff": name, "site": site, "start": "00:00", "end": "00:00"}
            for name, *_ in DEMO_STAFF
            for site in (SITE, HOME_SITE)
        ],
        "contacts": [
            {"resident": home_resident, "family": ["demo-family"], "family_doctors": ["demo-gp"]}
        ],
        "hospitals": [
            {
                "id": HOSPITAL[0],
                "name": HOSPITAL[1],
                "sites": [SITE, HOME_SITE],
                "channels": [f"{pager}/{HOSPITAL[0]}"],
            }
        ],
        "alerts": {
            "escalation": {
                "sites": {
                    HOME_SITE: {"medium": home_policy, "high": home_policy, "critical": home_policy}
                }
            }
        },
    }


def users_file(settings: Settings) -> Path:
    return Path(settings.data_dir).resolve() / USERS_FILE


async def ensure_demo_people(settings: Settings) -> Path:
    """Demo users (passwords generated once into demo-users.json, mode 0600, never printed)
    and, if none is stored yet, a care team paging them on the API's demo pager, so the demo
    ward's alerts go all the way to a message someone can read at /demo/pager; and the
    family-bed resident, whose contacts that care team links."""
    import json
    import os
    import secrets

    from services.auth.users import UserError, create_user
    from services.careteam.store import current_team, store_team
    from services.careteam.team import load_care_team

    path = users_file(settings)
    async with await AsyncConnection.connect(database_url(settings), autocommit=True) as conn:
        await repo.ensure_site(conn, site_id=SITE, name="Demo nursing home")
        await repo.ensure_unit(conn, site_id=SITE, unit_id=UNIT, name="Unit A")
        if not path.exists():
            accounts: list[tuple[str, Role, str | None]] = [
                (name, role, SITE) for name, _label, role, _team in DEMO_STAFF
            ]
            accounts.append(("demo-admin", "admin", None))
            people: dict[str, str] = {}
            for name, role, site in accounts:
                password = secrets.token_urlsafe(12)
                try:
                    await create_user(
                        conn, name, password, role, site_id=site, staff_id=name if site else None
                    )
                except UserError as exc:
                    if "already exists" not in str(exc):
                        raise
                    continue  # made by an earlier run whose file was removed: keep it as is
                people[name] = password
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(people, out, indent=1)
        home = await ensure_home_resident(conn)
        version, _ = await current_team(conn)
        if version == 0:
            pager = f"json://{settings.api_host}:{settings.api_port}/demo/pager"
            team = load_care_team(demo_care_team(pager, home))
            await store_team(conn, team, by="carewatch up (demo)")
    return path
