"""Provision, assign and retire devices. The broker account is created inside the database
transaction, so a device exists in both places or in neither."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from rules.fall_placement import PLACEMENTS, WORN, Placement
from services.devices import repo
from services.devices.secrets import generate_password, hash_password
from services.errors import CareWatchError
from services.operations.broker.acl import SERVICE_CLIENT_PREFIX, is_service_client_id

DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DeviceKind = Literal["wearable", "bed_sensor", "gateway"]
_OVERLAP = (
    "the assignment would overlap or precede the device's current one (or rewrite an ended "
    "one): give a time after it started"
)


class DeviceError(CareWatchError):
    """A provisioning or assignment request that cannot be done as asked (a 4xx, not a 5xx)."""

    def __init__(self, message: str, *, status: int = 409, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field  # the request field at fault, when one is


class BrokerAccounts(Protocol):
    """The broker side of provisioning (dynamic security in production, a fake in unit tests)."""

    def create_device(self, device_id: str, password: str) -> None: ...

    def delete_device(self, device_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class IssuedDevice:
    device_id: str
    site_id: str
    kind: DeviceKind
    password: str  # shown once, never stored
    placement: Placement | None = None

    def __repr__(self) -> str:
        return f"IssuedDevice({self.device_id!r}, site={self.site_id!r}, kind={self.kind!r})"


async def provision_device(
    conn: AsyncConnection[TupleRow],
    broker: BrokerAccounts,
    *,
    device_id: str,
    site_id: str,
    kind: DeviceKind,
    placement: Placement | None = None,
) -> IssuedDevice:
    if not DEVICE_ID.match(device_id):
        raise DeviceError("device_id must match [A-Za-z0-9_-]{1,64}", status=422)
    if is_service_client_id(device_id):
        # A device's MQTT client id is its device id: this one could pose as a service.
        raise DeviceError(
            f"device_id may not start with {SERVICE_CLIENT_PREFIX!r} (reserved for services)",
            status=422,
        )
    check_placement(kind, placement)
    password = generate_password()
    at_broker = False
    try:
        async with conn.transaction():
            if not await repo.site_exists(conn, site_id=site_id):
                raise DeviceError(f"unknown site {site_id!r}", status=422)
            try:
                await repo.insert_device(
                    conn,
                    device_id=device_id,
                    site_id=site_id,
                    kind=kind,
                    secret_hash=hash_password(password),
                    placement=placement,
                )
            except psycopg.errors.UniqueViolation:
                raise DeviceError(f"device {device_id!r} already exists") from None
            await asyncio.to_thread(broker.create_device, device_id, password)
            at_broker = True
    except BaseException:
        if at_broker:  # the commit failed after the broker said yes: undo that too
            await asyncio.to_thread(broker.delete_device, device_id)
        raise
    return IssuedDevice(device_id, site_id, kind, password, placement)


def check_placement(kind: DeviceKind, placement: str | None) -> None:
    """A wearable is worn somewhere on the body, a bed sensor lies in a bed, a gateway is
    worn by nobody: any other pairing is a provisioning mistake (422)."""
    if placement is None:
        return
    if placement not in PLACEMENTS:
        raise DeviceError(
            f"unknown placement {placement!r}: one of {', '.join(PLACEMENTS)}",
            status=422,
            field="placement",
        )
    fits = {
        "wearable": placement in WORN,
        "bed_sensor": placement == "bed",
        "gateway": False,
    }[kind]
    if not fits:
        raise DeviceError(
            f"a {kind} cannot be placed at {placement!r}", status=422, field="placement"
        )


async def assign_device(
    conn: AsyncConnection[TupleRow], *, device_id: str, resident_id: int | None, at: datetime
) -> None:
    """Assign the device to a resident (None: to nobody) from `at` on, keeping the history."""
    async with conn.transaction():
        device = await repo.get_device(conn, device_id=device_id, for_update=True)
        if device is None:
            raise DeviceError(f"unknown device {device_id!r}", status=404)
        if device.retired_at is not None:
            raise DeviceError(f"device {device_id!r} is retired")
        if await repo.assignment_after(conn, device_id=device_id, at=at):
            raise DeviceError(_OVERLAP)
        if resident_id is not None:
            site = await repo.resident_site(conn, resident_id=resident_id)
            if site is None:
                raise DeviceError(f"unknown resident {resident_id}", status=404)
            if site != device.site_id:
                raise DeviceError(
                    f"resident {resident_id} is in site {site!r}, the device in {device.site_id!r}",
                    status=422,
                )
        try:
            await repo.assign_device(conn, device_id=device_id, resident_id=resident_id, at=at)
        except (psycopg.errors.DataException, psycopg.errors.ExclusionViolation):
            raise DeviceError(_OVERLAP) from None


async def retire_device(
    conn: AsyncConnection[TupleRow], broker: BrokerAccounts, *, device_id: str, at: datetime
) -> repo.DeviceRow:
    """Take a device out of service: its broker account is deleted (which drops a connected
    session at once), its assignment ends at `at` and its row is marked retired.

    The broker is told inside the transaction: if it does not confirm, nothing is marked and
    the call can simply be repeated. If the commit fails after it did, the device is locked out
    anyway (the safe side) and a repeat finishes the job; so is retiring a retired device."""
    async with conn.transaction():
        device = await repo.get_device(conn, device_id=device_id, for_update=True)
        if device is None:
            raise DeviceError(f"unknown device {device_id!r}", status=404)
        if device.retired_at is None:
            await repo.end_assignments(conn, device_id=device_id, at=at)
            await repo.mark_retired(conn, device_id=device_id, at=at)
        await asyncio.to_thread(broker.delete_device, device_id)
    retired = await repo.get_device(conn, device_id=device_id)
    assert retired is not None  # devices are never deleted
    return retired
