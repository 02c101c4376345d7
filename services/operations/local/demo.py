"""The demo of `carewatch up`: one site and unit (and a family bed at home), the demo users
and a care team paging them on the API's demo pager. The demo ward's devices and their
simulator are the simulator's own (`carewatch sim`, device_sim/cli/demo_ward.py), started
by `carewatch up` as a process, never imported here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from services.auth.principal import Role
from services.careteam.roster import Role as TeamRole
from services.devices import repo
from services.settings import Settings, database_url

log = logging.getLogger("carewatch.up")

SITE = "demo"
UNIT = "A"
HOME_SITE = "demo-home"  # family beds: residents at home, watched from a care station
HOME_UNIT = "home"
HOME_NAME = "马林"


async def ensure_home_resident(conn: AsyncConnection) -> int:
    """The demo's family-bed resident: at home, watched by a community care station, with a
    family contact and a contracted family doctor in the care team."""
    from services.alerts.messages import HOME_ROOM  # imported when used: `carewatch` starts fast

    await repo.ensure_site(conn, site_id=HOME_SITE, name="演示家庭病床")
    await repo.ensure_unit(conn, site_id=HOME_SITE, unit_id=HOME_UNIT, name="家庭病床")
    # Its pages carry the home address, the emergency plan and the 120 guidance.
    await conn.execute("UPDATE sites SET kind = 'family_bed' WHERE site_id = %s", [HOME_SITE])
    cur = await conn.execute(
        "SELECT resident_id FROM residents WHERE site_id = %s ORDER BY resident_id LIMIT 1",
        [HOME_SITE],
    )
    row = await cur.fetchone()
    if row is not None:
        return int(row[0])
    return await repo.create_resident(
        conn, site_id=HOME_SITE, unit_id=HOME_UNIT, display_name=HOME_NAME, room=HOME_ROOM
    )


USERS_FILE = "demo-users.json"
# username (also the care team id), display name, login role, care team role
DEMO_STAFF: tuple[tuple[str, str, Role, TeamRole], ...] = (
    ("demo-caregiver", "李娜", "caregiver", "caregiver"),
    ("demo-nurse", "王芳", "nurse", "charge_nurse"),
    ("demo-doctor", "赵医生", "physician", "physician"),
)


# The ward's rota in the site's time zone: three nursing shifts, so a handover has a shift to
# go by and someone of each nursing role is on shift to page at every minute of the day. The
# demo users work the day shift; the others are care team members without a login.
DEMO_ZONE = "Asia/Shanghai"
DEMO_SHIFTS: tuple[tuple[str, str, str], ...] = (
    ("day", "08:00", "16:00"),
    ("evening", "16:00", "00:00"),
    ("night", "00:00", "08:00"),
)
# staff id, display name, care team role, shift
DEMO_ROTA: tuple[tuple[str, str, TeamRole, str], ...] = (
    ("demo-caregiver", "李娜", "caregiver", "day"),
    ("demo-nurse", "王芳", "charge_nurse", "day"),
    ("demo-caregiver-evening", "周敏", "caregiver", "evening"),
    ("demo-nurse-evening", "陈洁", "charge_nurse", "evening"),
    ("demo-caregiver-night", "孙慧", "caregiver", "night"),
    ("demo-nurse-night", "张丽", "charge_nurse", "night"),
)
DEMO_ON_CALL = ("demo-doctor",)  # the physician: on call around the clock (not a handover)

# The family bed's own contacts and the partner hospital, paged on the demo pager too. Names
# are Chinese, as the demo speaks Chinese (the product default): the pages name the role.
DEMO_CONTACTS: tuple[tuple[str, str, TeamRole], ...] = (
    ("demo-family", "马军（儿子）", "family"),
    ("demo-gp", "孙医生", "family_doctor"),
)
HOSPITAL = ("demo-hospital", "示范县人民医院")


def demo_care_team(pager: str, home_resident: int) -> dict[str, object]:
    """The demo's care team document: the rota (`DEMO_ROTA`, day, evening and night shifts in
    `DEMO_ZONE`) and the physician on call, at the nursing home and for the family beds; the
    family-bed resident's son and family doctor (paged with the care station's caregiver, then
    the doctor), and a partner hospital for referrals; every channel the demo pager."""
    hours = {name: (start, end) for name, start, end in DEMO_SHIFTS}
    on_shift = {staff: hours[shift] for staff, _label, _role, shift in DEMO_ROTA}
    on_shift |= dict.fromkeys(DEMO_ON_CALL, ("00:00", "00:00"))
    people = [(name, label, role) for name, label, role, _shift in DEMO_ROTA]
    people += [(name, label, team) for name, label, _r, team in DEMO_STAFF if name in DEMO_ON_CALL]
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
            {"staff": name, "site": site, "start": start, "end": end}
            for name, (start, end) in on_shift.items()
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
            "default_timezone": DEMO_ZONE,
            "site_timezones": {SITE: DEMO_ZONE, HOME_SITE: DEMO_ZONE},
            "escalation": {
                "sites": {
                    HOME_SITE: {"medium": home_policy, "high": home_policy, "critical": home_policy}
                }
            },
        },
    }


# Who stored a care team version: the demo's own, never edited since, while the newest version
# is by this name (an edit, from the web or the API, is stored by the editor).
DEMO_BY = "carewatch up (demo)"


async def ensure_demo_team(
    conn: AsyncConnection[TupleRow], pager: str, home_resident: int
) -> Literal["stored", "replaced", "kept", "current"]:
    """Store the demo care team if none is stored; replace the demo team of an earlier release
    (the newest version stored by `DEMO_BY` and not this release's document), so an old demo
    directory gets the new shifts; keep a team someone stored or edited."""
    from services.careteam.store import store_team
    from services.careteam.team import load_care_team

    team = load_care_team(demo_care_team(pager, home_resident))
    cur = await conn.execute(
        "SELECT version, stored_by, document FROM care_team ORDER BY version DESC LIMIT 1"
    )
    row = await cur.fetchone()
    if row is not None and row[1] != DEMO_BY:
        return "kept"
    if row is not None and row[2] == team.model_dump(mode="json"):
        return "current"
    version = await store_team(conn, team, by=DEMO_BY)
    if row is None:
        return "stored"
    log.info(
        "replaced the demo care team of an earlier release (version %s, never edited) with"
        " this release's (version %s)",
        row[0],
        version,
    )
    return "replaced"


def users_file(settings: Settings) -> Path:
    return Path(settings.data_dir).resolve() / USERS_FILE


async def ensure_demo_people(settings: Settings) -> Path:
    """Demo users (passwords generated once into demo-users.json, mode 0600, never printed)
    and, if none is stored yet (or only an earlier release's demo team, `ensure_demo_team`), a
    care team paging them on the API's demo pager, so the demo
    ward's alerts go all the way to a message someone can read at /demo/pager; and the
    family-bed resident, whose contacts that care team links."""
    import json
    import os
    import secrets

    from services.auth.users import UserError, create_user

    path = users_file(settings)
    async with await AsyncConnection.connect(database_url(settings), autocommit=True) as conn:
        await repo.ensure_site(conn, site_id=SITE, name="演示养老院")
        await repo.ensure_unit(conn, site_id=SITE, unit_id=UNIT, name="A")
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
        pager = f"json://{settings.api_host}:{settings.api_port}/demo/pager"
        await ensure_demo_team(conn, pager, home)
    return path
