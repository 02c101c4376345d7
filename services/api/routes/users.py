"""User accounts (administrators only): create, list. Passwords are set here or with
`carewatch user add` and are never returned or logged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from services.api.deps import AUTHENTICATED, Conn, Offset, errors, invalid, require
from services.api.repos import users as repo
from services.auth.principal import Role
from services.auth.users import UserError, create_user

router = APIRouter(
    prefix="/api/v1/users",
    tags=["users"],
    dependencies=[Depends(require("users:manage"))],
    responses=AUTHENTICATED,
)

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")]


class UserIn(BaseModel):
    username: Id
    password: str = Field(min_length=10, max_length=1024, repr=False)
    role: Role
    site_id: Id | None = None
    unit_ids: list[Id] = Field(default_factory=list)
    staff_id: Id | None = None
    hospital_id: Id | None = None
    resident_id: int | None = Field(default=None, ge=1, le=2**63 - 1)  # a family login's
    region_id: Id | None = Field(default=None, description="a regulator's region, and only theirs")


class UserOut(BaseModel):
    user_id: int
    username: str
    role: str
    site_id: str | None
    unit_ids: list[str]
    staff_id: str | None
    hospital_id: str | None
    resident_id: int | None
    region_id: str | None
    active: bool


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 409))
async def add_user(body: UserIn, conn: Conn) -> UserOut:
    try:
        async with conn.transaction():
            user_id = await create_user(
                conn,
                body.username,
                body.password,
                body.role,
                site_id=body.site_id,
                unit_ids=body.unit_ids,
                staff_id=body.staff_id,
                hospital_id=body.hospital_id,
                resident_id=body.resident_id,
                region_id=body.region_id,
            )
    except UserError as exc:
        raise _refused(exc) from None
    user = await repo.get_user(conn, user_id=user_id)
    assert user is not None
    return UserOut(**user)


def _refused(exc: UserError) -> HTTPException:
    """409 for a username that is taken; otherwise a 422 naming the field. `create_user` words
    its refusals for the CLI too, so the field is told by what the message is about."""
    message = str(exc)
    if "already exists" in message:
        return HTTPException(status.HTTP_409_CONFLICT, message)
    field = next((f for f in ("username", "password", "resident") if f in message), "site_id")
    field = "resident_id" if field == "resident" else field
    return invalid(["body", field], message)


@router.get("")
async def list_users(
    conn: Conn,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> list[UserOut]:
    return [UserOut(**u) for u in await repo.list_users(conn, limit=limit, offset=offset)]
