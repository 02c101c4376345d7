"""Administration: the care team document (`carewatch team`), user accounts (`carewatch
user`), sites (`carewatch site`) and regions (`carewatch region`)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.cli.common import fail
from services.errors import CareWatchError
from services.settings import Settings

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import TupleRow

    Conn = AsyncConnection[TupleRow]


def _read_team(path: Path) -> object:
    import yaml

    from services.careteam.team import load_care_team

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CareWatchError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CareWatchError(f"{path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CareWatchError(f"{path}: the document must be a mapping (staff:, shifts:, ...)")
    return load_care_team(data)


def team_check(path: Path) -> None:
    """Validate a care team file without storing it."""
    try:
        _read_team(path)
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"{path}: valid")


def team_load(path: Path) -> None:
    """Validate a care team file and store it as the new version (the alert service reloads)."""
    from psycopg import AsyncConnection

    from services.careteam.store import placements, store_team
    from services.careteam.team import CareTeam, roster_of
    from services.settings import database_url

    try:
        team = _read_team(path)
        assert isinstance(team, CareTeam)

        async def store() -> int:
            async with await AsyncConnection.connect(database_url(Settings())) as conn:
                roster_of(team, await placements(conn))  # contacts must name known residents
                version = await store_team(conn, team, by=f"cli:{path.name}")
                await conn.commit()
                return version

        version = asyncio.run(store())
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"stored care team version {version}")


def user_add(
    username: str,
    role: Annotated[
        str,
        typer.Option(help="admin, physician, nurse, caregiver, integrator, ... or regulator."),
    ],
    site: Annotated[
        str | None,
        typer.Option(
            help="The site they work at (omit: every site for an admin, none for anyone else)."
        ),
    ] = None,
    unit: Annotated[
        list[str] | None, typer.Option(help="A unit they work on (repeat; omit: every unit).")
    ] = None,
    staff: Annotated[str | None, typer.Option(help="Their id in the care team document.")] = None,
    hospital: Annotated[
        str | None, typer.Option(help="For a partner hospital's staff: the hospital id.")
    ] = None,
    resident: Annotated[
        int | None, typer.Option(help="For a family login: the one resident they may see.")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="For a regulator: the region whose sites they read.")
    ] = None,
) -> None:
    """Create a user; the password is read from standard input (never from the command line,
    where other users and the shell history would see it)."""
    from psycopg import AsyncConnection

    from services.auth.principal import ROLES
    from services.auth.users import create_user
    from services.settings import database_url

    if role not in ROLES:
        raise fail(CareWatchError(f"unknown role {role!r}: one of {', '.join(ROLES)}"))
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")

    async def add() -> int:
        async with await AsyncConnection.connect(database_url(Settings())) as conn:
            user_id = await create_user(
                conn,
                username,
                password,
                role,  # checked against ROLES above
                site_id=site,
                unit_ids=unit or (),
                staff_id=staff,
                hospital_id=hospital,
                resident_id=resident,
                region_id=region,
            )
            await conn.commit()
            return user_id

    try:
        user_id = asyncio.run(add())
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"created user {username} ({role}) with id {user_id}")


def site_add(
    site_id: str,
    name: Annotated[str, typer.Option(help="Display name.")],
    region: Annotated[
        str | None, typer.Option(help="The region it belongs to (carewatch region add).")
    ] = None,
) -> None:
    """Add a site (idempotent); with --region, put it in that region too."""
    from services.devices import repo
    from services.regions import set_site_region

    async def run(conn: Conn) -> None:
        await repo.ensure_site(conn, site_id=site_id, name=name)
        if region is not None:
            await set_site_region(conn, site_id=site_id, region_id=region)

    _owner(run)
    typer.echo(f"site {site_id} ready" + (f" in region {region}" if region else ""))


def site_region(
    site_id: str,
    region: Annotated[str | None, typer.Argument(help="The region (omit: in no region).")] = None,
) -> None:
    """Put an existing site in a region, or (no region given) take it out of its region."""
    from services.regions import set_site_region

    async def run(conn: Conn) -> None:
        await set_site_region(conn, site_id=site_id, region_id=region)

    _owner(run)
    typer.echo(f"site {site_id} is in region {region}" if region else f"site {site_id}: no region")


def region_add(
    region_id: str,
    name: Annotated[str, typer.Option(help="Display name.")],
    lead_hospital: Annotated[
        str | None,
        typer.Option(help="The medical consortium's lead hospital: a care-team hospital id."),
    ] = None,
) -> None:
    """Add a region (a district over sites), or rename it."""
    from services.careteam.store import current_team
    from services.regions import add_region, set_lead_hospital

    made: list[bool] = []

    async def run(conn: Conn) -> None:
        made.append(await add_region(conn, region_id=region_id, name=name))
        if lead_hospital is not None:
            _, team = await current_team(conn)
            known = frozenset(h.id for h in team.hospitals)
            await set_lead_hospital(
                conn, region_id=region_id, hospital_id=lead_hospital, known=known
            )

    _owner(run)
    lead = f", lead hospital {lead_hospital}" if lead_hospital else ""
    typer.echo(f"region {region_id} " + ("added" if made[0] else "renamed") + lead)


def _owner(work: Callable[[Conn], Awaitable[None]]) -> None:
    """Run `work` in one transaction on the owner's account; a refusal exits 1 with its reason."""
    from psycopg import AsyncConnection

    from services.settings import database_url

    async def run() -> None:
        async with await AsyncConnection.connect(database_url(Settings())) as conn:
            await work(conn)
            await conn.commit()

    try:
        asyncio.run(run())
    except CareWatchError as exc:
        raise fail(exc) from None
