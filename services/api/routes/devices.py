"""Devices: provision (credentials shown once), look up, assign to a resident."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from services.api.deps import Broker, Conn, require
from services.devices import repo
from services.devices.provisioning import DeviceKind, assign_device, provision_device

# The token is checked before anything else (a database connection included).
router = APIRouter(
    prefix="/api/v1/devices", tags=["devices"], dependencies=[Depends(require("devices:manage"))]
)

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class DeviceCreate(BaseModel):
    device_id: Id
    site_id: Id
    kind: DeviceKind = "wearable"


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
    mqtt: MqttConnection


class DevicePublic(BaseModel):
    device_id: str
    site_id: str
    kind: str
    created_at: datetime
    retired_at: datetime | None
    resident_id: int | None


class AssignmentIn(BaseModel):
    resident_id: int | None = Field(description="null ends the current assignment")
    at: datetime | None = Field(default=None, description="when it takes effect; default now")


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_device(
    body: DeviceCreate, conn: Conn, broker: Broker, request: Request
) -> DeviceIssued:
    issued = await provision_device(
        conn, broker, device_id=body.device_id, site_id=body.site_id, kind=body.kind
    )
    host, port = request.app.state.mqtt_public
    return DeviceIssued(
        device_id=issued.device_id,
        site_id=issued.site_id,
        kind=issued.kind,
        mqtt=MqttConnection(
            host=host,
            port=port,
            username=issued.device_id,
            password=issued.password,
            topic_prefix=f"carewatch/v1/{issued.site_id}/{issued.device_id}/",
        ),
    )


@router.get("/{device_id}")
async def get_device(device_id: str, conn: Conn) -> DevicePublic:
    row = await repo.get_device(conn, device_id=device_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown device {device_id!r}")
    return DevicePublic.model_validate(row, from_attributes=True)


@router.put("/{device_id}/resident", status_code=status.HTTP_204_NO_CONTENT)
async def put_device_resident(device_id: str, body: AssignmentIn, conn: Conn) -> None:
    await assign_device(
        conn, device_id=device_id, resident_id=body.resident_id, at=body.at or datetime.now(UTC)
    )
