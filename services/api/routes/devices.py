"""Devices: provision (credentials shown once), list and look up with their state, assign to a
resident (keeping the history), retire (credentials revoked at once), and their dead letters.

Integrators manage devices too: what they see of residents is an id, never a name, and never
a payload that may hold a resident's measurements (see `list_dead_letters`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field

from rules.fall_placement import Placement
from services.api.deps import (
    AUTHENTICATED,
    OFFLINE_AFTER,
    Broker,
    Caller,
    Conn,
    Instant,
    OfflineReason,
    Offset,
    Problem,
    errors,
    require,
)
from services.auth.principal import Principal
from services.devices import repo
from services.devices.preview import PREVIEW_BYTES, safe_preview
from services.devices.provisioning import (
    DeviceError,
    DeviceKind,
    assign_device,
    provision_device,
    retire_device,
)
from services.errors import BrokerAdminError

# The token is checked before anything else (a database connection included).
router = APIRouter(
    prefix="/api/v1/devices",
    tags=["devices"],
    dependencies=[Depends(require("devices:manage"))],
    responses=AUTHENTICATED,
)

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class DeviceCreate(BaseModel):
    device_id: Id
    site_id: Id
    kind: DeviceKind = "wearable"
    placement: Placement | None = Field(
        default=None,
        description="where it is worn (wrist, waist, chest, pendant) or bed for a bed sensor;"
        " the fall detector uses settings for that placement and none for a bed",
    )


class MqttConnection(BaseModel):
    host: str
    port: int
    username: str
    password: str = Field(description="Shown once. Only a hash is stored.")
    topic_prefix: str


class DeviceIssued(BaseModel):
    device_id: str
    site_id: str
    kind: DeviceKind
    placement: Placement | None
    mqtt: MqttConnection


class DevicePublic(BaseModel):
    device_id: str
    site_id: str
    kind: str
    created_at: datetime
    retired_at: datetime | None
    resident_id: int | None
    placement: Placement | None = Field(description="declared at provisioning; null: not declared")


class DeviceOverview(BaseModel):
    device_id: str
    site_id: str
    kind: str
    created_at: datetime
    retired_at: datetime | None
    resident_id: int | None = Field(description="whom it is assigned to now (an id only)")
    assigned_since: datetime | None
    online: bool = Field(
        description="not retired, heard from in the last 5 minutes, and its last word was not"
        " an offline status (its last will)"
    )
    offline_reason: OfflineReason | None = Field(
        description="why it is not online: disconnected (its last word was an offline status,"
        " its last will or its own), silent (nothing heard for 5 minutes), retired; null when"
        " online or never heard from"
    )
    last_seen: datetime | None = Field(
        description="when CareWatch last received a message from it, stored or rejected"
        " (data messages of the last 7 days; status messages and dead letters of any age)"
    )
    battery: float | None = Field(description="%, from its latest status that reported it")
    fw: str | None = Field(description="firmware version, from its latest status that had one")
    placement: Placement | None = Field(description="declared at provisioning; null: not declared")


class DevicePage(BaseModel):
    items: list[DeviceOverview]
    limit: int
    offset: int


class DeadLetterOut(BaseModel):
    id: int
    received_at: datetime
    topic: str
    reason: str = Field(description="one of the reject reasons of the device protocol")
    detail: str | None = Field(description="what exactly was wrong; null when withheld")
    payload_size: int = Field(description="bytes, as received")
    preview: str | None = Field(
        description=f"the first {PREVIEW_BYTES} bytes as printable text (invalid UTF-8 as"
        " \\xNN, control characters escaped); null when withheld"
    )
    preview_truncated: bool
    withheld: bool = Field(
        description="true: the device was assigned to a resident when the message came and the"
        " caller may not read residents' data, so detail and preview (which may hold that"
        " resident's values) are left out"
    )


class DeadLetterPage(BaseModel):
    items: list[DeadLetterOut]
    limit: int


class AssignmentIn(BaseModel):
    resident_id: int | None = Field(description="null ends the current assignment")
    at: Instant | None = Field(default=None, description="when it takes effect; default now")


def _invalid(field: str, exc: DeviceError) -> HTTPException:
    """A 422 from provisioning in the shape of FastAPI's validation errors, naming `field`."""
    return HTTPException(
        exc.status, [{"loc": ["body", field], "msg": str(exc), "type": "value_error"}]
    )


def _outside(caller: Principal, site_id: str) -> bool:
    """A caller bound to a site manages that site's devices only. No site is every site only
    for an admin (`Principal.every_site`): an integrator bound to no site manages none."""
    if caller.every_site:
        return False
    return caller.site_id is None or site_id != caller.site_id


def _other_site() -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, "this device belongs to another site")


async def _device_in_scope(conn: Conn, caller: Principal, device_id: str) -> repo.DeviceRow:
    row = await repo.get_device(conn, device_id=device_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown device {device_id!r}")
    if _outside(caller, row.site_id):
        raise _other_site()
    return row


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**errors(400), 409: {"model": Problem, "description": "the device exists"}},
)
async def create_device(
    body: DeviceCreate, conn: Conn, broker: Broker, request: Request, caller: Caller
) -> DeviceIssued:
    if _outside(caller, body.site_id):
        raise _other_site()
    try:
        issued = await provision_device(
            conn,
            broker,
            device_id=body.device_id,
            site_id=body.site_id,
            kind=body.kind,
            placement=body.placement,
        )
    except DeviceError as exc:
        if exc.status != status.HTTP_422_UNPROCESSABLE_CONTENT:
            raise
        # The id's pattern is the model's too: a 422 here is about the site or the placement.
        raise _invalid(exc.field or "site_id", exc) from None
    host, port = request.app.state.mqtt_public
    return DeviceIssued(
        device_id=issued.device_id,
        site_id=issued.site_id,
        kind=issued.kind,
        placement=issued.placement,
        mqtt=MqttConnection(
            host=host,
            port=port,
            username=issued.device_id,
            password=issued.password,
            topic_prefix=f"carewatch/v1/{issued.site_id}/{issued.device_id}/",
        ),
    )


@router.get("")
async def list_devices(
    conn: Conn,
    caller: Caller,
    site: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = None,
    kind: DeviceKind | None = None,
    online: bool | None = None,
    retired: Annotated[bool | None, Query(description="omit: retired devices too")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> DevicePage:
    """Devices with their state (online, last seen, battery, firmware) and current assignment,
    by site and id; a caller bound to a site sees that site's only, a non-admin bound to no
    site none (an empty list, as for a resident list)."""
    if not caller.every_site:
        if caller.site_id is None or (site is not None and site != caller.site_id):
            return DevicePage(items=[], limit=limit, offset=offset)
        site = caller.site_id
    rows = await repo.list_devices(
        conn,
        site_id=site,
        kind=kind,
        online=online,
        retired=retired,
        offline_after=OFFLINE_AFTER,
        limit=limit,
        offset=offset,
    )
    items = [DeviceOverview.model_validate(row, from_attributes=True) for row in rows]
    return DevicePage(items=items, limit=limit, offset=offset)


@router.get("/{device_id}", responses=errors(404))
async def get_device(device_id: DeviceId, conn: Conn, caller: Caller) -> DevicePublic:
    row = await _device_in_scope(conn, caller, device_id)
    return DevicePublic.model_validate(row, from_attributes=True)


@router.put(
    "/{device_id}/resident",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **errors(400),
        404: {"model": Problem, "description": "no such device, or no such resident"},
        409: {
            "model": Problem,
            "description": "it would overlap or precede the current one, or rewrite an ended"
            " one; or the device is retired",
        },
    },
)
async def put_device_resident(
    device_id: DeviceId, body: AssignmentIn, conn: Conn, caller: Caller
) -> None:
    await _device_in_scope(conn, caller, device_id)
    try:
        await assign_device(
            conn,
            device_id=device_id,
            resident_id=body.resident_id,
            at=body.at or datetime.now(UTC),
        )
    except DeviceError as exc:
        if exc.status != status.HTTP_422_UNPROCESSABLE_CONTENT:
            raise
        raise _invalid("resident_id", exc) from None  # a resident at another site


@router.post(
    "/{device_id}/retire",
    responses={
        **errors(404),
        502: {"model": Problem, "description": "the broker did not confirm; nothing changed"},
    },
)
async def post_device_retire(
    device_id: DeviceId, conn: Conn, broker: Broker, caller: Caller
) -> DevicePublic:
    """Take the device out of service: its broker account is deleted at once (a connected
    session is dropped, a new one refused), its assignment ends now and it is marked retired.
    Repeating it is harmless."""
    await _device_in_scope(conn, caller, device_id)
    try:
        row = await retire_device(conn, broker, device_id=device_id, at=datetime.now(UTC))
    except BrokerAdminError as exc:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY,
            f"the broker did not confirm the revocation, so nothing was changed; retry: {exc}",
        ) from None
    return DevicePublic.model_validate(row, from_attributes=True)


@router.get("/{device_id}/dead-letters", responses=errors(404))
async def list_dead_letters(
    device_id: DeviceId,
    conn: Conn,
    caller: Caller,
    since: Annotated[
        AwareDatetime | None, Query(description="only those received at or after this")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeadLetterPage:
    """The device's rejected messages, newest first: why, and a safe preview of what it sent."""
    await _device_in_scope(conn, caller, device_id)
    rows = await repo.dead_letters(
        conn, device_id=device_id, since=since, limit=limit, head_bytes=PREVIEW_BYTES
    )
    # Once a device is worn, what it sends is that resident's health data, rejected or not.
    may_read = caller.can("residents:read")
    items = []
    for row in rows:
        withheld = row.assigned and not may_read
        items.append(
            DeadLetterOut(
                id=row.id,
                received_at=row.received_at,
                topic=row.topic,
                reason=row.reason,
                detail=None if withheld else row.detail,
                payload_size=row.payload_size,
                preview=None if withheld else safe_preview(row.head),
                preview_truncated=row.payload_size > len(row.head),
                withheld=withheld,
            )
        )
    return DeadLetterPage(items=items, limit=limit)
