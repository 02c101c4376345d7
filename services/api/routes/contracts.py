"""Family-doctor contracts: who signed (the team), with which doctor (a `family_doctor`
login), from when to when, the service package and the special-needs category. Staff of the
resident's place manage them; a family doctor reads their own. The caseload is the residents
under a contract in force; coverage is per site and category against the 80 % target."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field, model_validator

from services.api.deps import (
    AUTHENTICATED,
    BIGINT_MAX,
    Conn,
    Offset,
    PgText,
    errors,
    invalid,
    require,
    resident_in_scope,
)
from services.api.repos import contracts as repo
from services.auth import audit
from services.auth.principal import Principal

router = APIRouter(tags=["family doctors"], responses=AUTHENTICATED)
PREFIX: Final = "/api/v1/family-doctor-contracts"

Reader = Annotated[Principal, Depends(require("contracts:read"))]
Writer = Annotated[Principal, Depends(require("contracts:write"))]
CaseloadReader = Annotated[Principal, Depends(require("residents:read"))]

Category = Literal["disabled", "aged_80_plus", "special_difficulty"]
Text = Annotated[PgText, Field(min_length=1, max_length=200)]
TARGET: Final = 0.8  # contracted share of each special-needs category (2027)


class ContractIn(BaseModel):
    resident_id: int = Field(gt=0, le=BIGINT_MAX)
    team: Text = Field(description="the signing team")
    doctor: Text = Field(description="the family doctor's username (role family_doctor)")
    start_on: date
    end_on: date
    service_package: Text
    category: Category | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ContractIn:
        if self.end_on < self.start_on:
            raise ValueError("end_on is before start_on")
        return self


class ContractPatch(BaseModel):
    team: Text | None = None
    start_on: date | None = None
    end_on: date | None = None
    service_package: Text | None = None
    category: Category | None = None


class ContractOut(BaseModel):
    contract_id: int
    resident_id: int
    site_id: str
    unit_id: str
    team: str
    doctor: str
    start_on: date
    end_on: date
    service_package: str
    category: Category | None
    created_by: str
    created_at: datetime


def _sees(caller: Principal, contract: dict[str, Any]) -> bool:
    if caller.role == "family_doctor":
        return bool(contract["doctor"] == caller.username and caller.hospital_id is None)
    return caller.covers(contract["site_id"], contract["unit_id"])


async def _contract(conn: Conn, caller: Principal, contract_id: int) -> dict[str, Any]:
    found = await repo.get(conn, contract_id=contract_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no contract {contract_id}")
    if not _sees(caller, found):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"contract {contract_id} is outside your scope"
        )
    return found


async def _doctor(conn: Conn, username: str) -> None:
    if not await repo.is_family_doctor(conn, username=username):
        raise invalid(["body", "doctor"], f"{username!r} is not an active family_doctor login")


@router.post(PREFIX, status_code=status.HTTP_201_CREATED, responses=errors(400, 404))
async def create_contract(
    body: ContractIn, conn: Conn, caller: Writer, request: Request
) -> ContractOut:
    site_id, _ = await resident_in_scope(conn, caller, body.resident_id)
    await _doctor(conn, body.doctor)
    contract_id = await repo.create(conn, fields=body.model_dump(), created_by=caller.actor)
    await audit.record(
        conn,
        request,
        caller,
        "contract.create",
        f"contract/{contract_id}",
        resident_id=body.resident_id,
        site_id=site_id,
    )
    return ContractOut(**await _contract(conn, caller, contract_id))


@router.get(PREFIX)
async def list_contracts(
    conn: Conn,
    caller: Reader,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    doctor: Annotated[PgText | None, Query(max_length=64)] = None,
    resident: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    in_force_on: Annotated[
        date | None, Query(description="only contracts in force that day")
    ] = None,
) -> dict[str, list[ContractOut]]:
    """Contracts of residents in the caller's scope (a family doctor: their own)."""
    if caller.role == "family_doctor":
        scope: tuple[str, list[object]] = ("c.doctor = %s", [caller.username])
        if caller.hospital_id is not None:
            scope = ("false", [])
    else:
        scope = caller.scope_sql("r.site_id", "r.unit_id")
    rows = await repo.list_contracts(
        conn,
        scope=scope,
        doctor=doctor,
        resident=resident,
        in_force_on=in_force_on,
        limit=limit,
        offset=offset,
    )
    return {"items": [ContractOut(**r) for r in rows]}


@router.get(PREFIX + "/{contract_id}", responses=errors(404))
async def get_contract(contract_id: int, conn: Conn, caller: Reader) -> ContractOut:
    return ContractOut(**await _contract(conn, caller, contract_id))


@router.patch(PREFIX + "/{contract_id}", responses=errors(400, 404))
async def change_contract(
    contract_id: int, body: ContractPatch, conn: Conn, caller: Writer, request: Request
) -> ContractOut:
    """Change a contract's team, dates, package or category (renewal: a later end_on)."""
    found = await _contract(conn, caller, contract_id)
    changes = body.model_dump(exclude_unset=True)
    if any(changes.get(k, 0) is None for k in ("team", "start_on", "end_on", "service_package")):
        raise invalid(["body"], "team, start_on, end_on and service_package cannot be null")
    if changes.get("end_on", found["end_on"]) < changes.get("start_on", found["start_on"]):
        raise invalid(["body", "end_on"], "end_on is before start_on")
    await repo.update(conn, contract_id=contract_id, changes=changes)
    await audit.record(
        conn,
        request,
        caller,
        "contract.change",
        f"contract/{contract_id}/{','.join(sorted(changes)) or 'nothing'}",
        resident_id=found["resident_id"],
        site_id=found["site_id"],
    )
    return ContractOut(**await _contract(conn, caller, contract_id))


@router.delete(
    PREFIX + "/{contract_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
async def delete_contract(
    contract_id: int, conn: Conn, caller: Writer, request: Request
) -> Response:
    """Remove a contract entered by mistake (one that ended stays: change its end_on)."""
    found = await _contract(conn, caller, contract_id)
    await repo.delete(conn, contract_id=contract_id)
    await audit.record(
        conn,
        request,
        caller,
        "contract.delete",
        f"contract/{contract_id}",
        resident_id=found["resident_id"],
        site_id=found["site_id"],
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class CaseloadEntry(BaseModel):
    resident_id: int
    display_name: str
    site_id: str
    unit_id: str
    site_kind: str
    status: str
    contract_id: int
    contract_ends_on: date
    category: Category | None
    open_alerts: int


@router.get("/api/v1/caseload")
async def caseload(
    conn: Conn,
    caller: CaseloadReader,
    request: Request,
    doctor: Annotated[
        PgText | None, Query(max_length=64, description="staff only: whose caseload")
    ] = None,
) -> dict[str, list[CaseloadEntry]]:
    """A family doctor's caseload across sites: the residents under a contract in force today.
    A family doctor gets their own; staff name the doctor and see those of their scope."""
    if caller.role == "family_doctor":
        who = caller.username
        scope: tuple[str, list[object]] = (
            ("true", []) if caller.hospital_id is None else ("false", [])
        )
    elif doctor is None:
        raise invalid(["query", "doctor"], "name the family doctor whose caseload to list")
    else:
        who, scope = doctor, caller.scope_sql("r.site_id", "r.unit_id")
    rows = await repo.caseload(conn, scope=scope, doctor=who, now=datetime.now(UTC))
    await audit.record(conn, request, caller, "caseload.read", f"caseload/{who}")
    return {"items": [CaseloadEntry(**r) for r in rows]}


class CoverageEntry(BaseModel):
    category: Category
    residents: int = Field(description="residents of the site in this category")
    contracted: int = Field(description="of them, under a contract in force that day")
    rate: float | None = Field(description="contracted / residents; null with no residents")
    target: float
    meets_target: bool | None


@router.get("/api/v1/sites/{site_id}/contract-coverage", responses=errors(404))
async def contract_coverage(
    site_id: str,
    conn: Conn,
    caller: Reader,
    on: Annotated[
        date | None, Query(description="the day (default: each resident's today, local time)")
    ] = None,
) -> dict[str, Any]:
    """Per special-needs category: the share of the site's residents under a contract."""
    if not caller.covers(site_id, None):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"site {site_id!r} is outside your scope")
    if not await repo.site_exists(conn, site_id=site_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id!r}")
    items = []
    counts = await repo.coverage(conn, site_id=site_id, on=on, now=datetime.now(UTC))
    for category, total, contracted in counts:
        rate = contracted / total if total else None
        items.append(
            CoverageEntry(
                category=category,
                residents=total,
                contracted=contracted,
                rate=rate,
                target=TARGET,
                meets_target=None if rate is None else rate >= TARGET,
            )
        )
    return {"site_id": site_id, "on": on, "items": items}
