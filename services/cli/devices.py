"""`carewatch device add` (provision) and `carewatch device check` (watch one live)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from services.cli.common import fail
from services.errors import CareWatchError
from services.settings import Settings


def device_add(
    device_id: str,
    site: Annotated[str, typer.Option(help="The site the device belongs to.")],
    kind: Annotated[str, typer.Option(help="wearable, bed_sensor or gateway.")] = "wearable",
    placement: Annotated[
        str | None,
        typer.Option(
            help="Where it is worn: wrist, waist, chest or pendant; bed for a bed sensor."
        ),
    ] = None,
) -> None:
    """Provision a device: prints its MQTT password once (only a hash is kept)."""
    from psycopg import AsyncConnection

    from rules.fall_placement import parse_placement
    from services.devices.provisioning import DeviceError, provision_device
    from services.operations.broker.dynsec import DynsecAccounts
    from services.settings import database_url, mqtt_admin_endpoint

    if kind not in ("wearable", "bed_sensor", "gateway"):
        raise fail(ValueError("--kind must be wearable, bed_sensor or gateway"))
    try:
        # Checked before connecting to anything; the pairing with --kind by provision_device.
        declared = None if placement is None else parse_placement(placement)
    except ValueError as exc:
        raise fail(exc) from None
    settings = Settings()

    async def run() -> str:
        broker = DynsecAccounts(mqtt_admin_endpoint(settings))
        async with await AsyncConnection.connect(database_url(settings), autocommit=True) as conn:
            issued = await provision_device(
                conn,
                broker,
                device_id=device_id,
                site_id=site,
                kind=kind,  # type: ignore[arg-type]
                placement=declared,
            )
            return issued.password

    try:
        password = asyncio.run(run())
    except (CareWatchError, DeviceError) as exc:
        raise fail(exc) from None
    typer.echo(
        f"device:   {device_id}\nsite:     {site}\n"
        + (f"placement: {placement}\n" if placement else "")
        + f"broker:   {settings.mqtt_host}:{settings.mqtt_port}"
    )
    typer.echo(
        f"username: {device_id}\npassword: {password}   (shown once: store it on the device)"
    )
    typer.echo(f"topics:   carewatch/v1/{site}/{device_id}/{{vitals,motion,bed,event,status,fhir}}")


def device_check(
    device: Annotated[str, typer.Option("--device", help="The device to watch.")],
    duration: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds to watch (default: until Ctrl-C).")
    ] = None,
    expect: Annotated[
        list[str] | None,
        typer.Option(help="A stream it must send (repeat; default: by its kind)."),
    ] = None,
    max_skew: Annotated[
        float, typer.Option(min=0.0, help="Clock offset, in seconds, beyond which to warn.")
    ] = 2.0,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail on warnings too (gaps, skew, missing streams).")
    ] = False,
) -> None:
    """Watch a device's messages live and judge each as the ingest worker would; exits 1 if
    any would be rejected."""
    from datetime import timedelta

    from services.devices.check import parse_streams
    from services.devices.watch import run_device_check

    try:
        wanted = None if expect is None else parse_streams(expect)
    except ValueError as exc:
        raise fail(exc) from None
    try:
        summary = run_device_check(
            Settings(),
            device_id=device,
            duration_s=duration,
            expect=wanted,
            max_skew=timedelta(seconds=max_skew),
            strict=strict,
            emit=typer.echo,
        )
    except CareWatchError as exc:
        raise fail(exc) from None
    raise typer.Exit(code=summary.exit_code(strict=strict))
