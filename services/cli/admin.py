"""Administration: the care team document (`carewatch team`), user accounts (`carewatch
user`) and sites (`carewatch site`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.cli.common import fail
from services.errors import CareWatchError
from services.settings import Settings


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
    role: Annotated[str, typer.Option(help="admin, physician, nurse, caregiver or integrator.")],
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
            )
            await conn.commit()
            return user_id

    try:
        user_id = asyncio.run(add())
    except CareWatchError as exc:
        raise fail(exc) from None
    typer.echo(f"created user {username} ({role}) with id {user_id}")


def site_add(site_id: str, name: Annotated[str, typer.Option(help="Display name.")]) -> None:
    """Add a site (idempotent)."""
    from psycopg import AsyncConnection

    from services.devices import repo
    from services.settings import database_url

    async def run() -> None:
        async with await AsyncConnection.connect(database_url(Settings()), autocommit=True) as conn:
            await repo.ensure_site(conn, site_id=site_id, name=name)

    asyncio.run(run())
    typer.echo(f"site {site_id} ready")
