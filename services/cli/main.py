"""The `carewatch` command, read as a table of contents: each command and the module that
holds it. The simulator's commands (`sim`, `eval`, `demo`) and `upgrade-state` (upgrade/) are
not here: they come from entry points (see plugins.py)."""

from __future__ import annotations

import typer

from services.cli import admin, backup, devices, serve, stack
from services.cli.plugins import PluginGroup

app = typer.Typer(
    cls=PluginGroup, help="CareWatch: resident monitoring and alerting.", no_args_is_help=True
)
device_app = typer.Typer(help="Provision and manage devices.", no_args_is_help=True)
site_app = typer.Typer(help="Sites (care homes, community stations, home-care areas).")
region_app = typer.Typer(
    help="Regions: districts over sites, read by their regulators.", no_args_is_help=True
)
user_app = typer.Typer(help="User accounts for the API and web pages.", no_args_is_help=True)
team_app = typer.Typer(
    help="The care team document: staff, shifts, contacts, hospitals, alert policy.",
    no_args_is_help=True,
)

app.command()(stack.up)
app.command()(stack.migrate)
app.command()(backup.backup)
app.command()(backup.restore)
app.command()(serve.ingest)
app.command()(serve.detect)
app.command()(serve.alerts)
app.add_typer(team_app, name="team")
team_app.command("check")(admin.team_check)
team_app.command("load")(admin.team_load)
app.add_typer(user_app, name="user")
user_app.command("add")(admin.user_add)
app.command()(serve.api)
app.add_typer(site_app, name="site")
site_app.command("add")(admin.site_add)
site_app.command("region")(admin.site_region)
app.add_typer(region_app, name="region")
region_app.command("add")(admin.region_add)
app.add_typer(device_app, name="device")
device_app.command("add")(devices.device_add)
device_app.command("check")(devices.device_check)
