"""Outbreak case files (`/api/v1/outbreaks`): opened by the cluster rules, one open per unit
and syndrome, with the line list of its cases; open until an infection-control lead marks it
reported to disease control (when, to whom, reference) or ruled out. Scoped to the caller's
sites and units like every route, and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from rules.vocabulary import PersonKind
from services.api.deps import AUTHENTICATED, Conn, Instant, Offset, PgText, errors, invalid, require
from services.api.repos import outbreaks as repo
from services.api.spreadsheets import XLSX, table_download
from services.auth import audit
from services.auth.principal import Principal

router = APIRouter(prefix="/api/v1/outbreaks", tags=["outbreaks"], responses=AUTHENTICATED)

# The list carries counts, never who; the file and its line list name residents.
Reader = Annotated[Principal, Depends(require("alerts:read"))]
CaseReader = Annotated[Principal, Depends(require("residents:read"))]
Lead = Annotated[Principal, Depends(require("outbreaks:report"))]

Status = Literal["open", "reported", "ruled_out"]
Text = Annotated[PgText, Field(min_length=1, max_length=200)]
CSV_COLUMNS: Final = (
    "person_kind", "person_id", "name", "unit_id", "onset", "signs", "temperature", "drill"
)  # fmt: skip


class OutbreakOut(BaseModel):
    outbreak_id: int
    site_id: str
    unit_id: str | None = Field(description="None: a site's file (cases of several units)")
    syndrome: str = Field(description="respiratory, gastrointestinal or fever")
    rule_id: str
    status: Status
    drill: bool = Field(description="a drill's case file (made-up cases), not an outbreak")
    opened_at: datetime
    updated_at: datetime
    cases: int = Field(description="how many cases its line list holds")
    first_onset: datetime | None
    reported_at: datetime | None
    reported_to: str | None
    reference: str | None
    closed_by: str | None
    closed_at: datetime | None
    note: str | None


class OutbreakList(BaseModel):
    items: list[OutbreakOut]


class CaseOut(BaseModel):
    person_kind: PersonKind
    person_id: int = Field(description="negative: a drill's made-up case")
    drill: bool
    name: str | None = Field(
        description="a resident's name, or a member of staff's from the roster"
    )
    unit_id: str
    onset: datetime
    signs: list[str]
    temperature: float | None = Field(description="the highest reported, °C")


class OutbreakFile(OutbreakOut):
    line_list: list[CaseOut]


class Report(BaseModel):
    reported_to: Text = Field(description="e.g. the district disease-control centre")
    reported_at: Instant | None = Field(default=None, description="default now")
    reference: Text | None = Field(default=None, description="the report's reference number")


class RuleOut(BaseModel):
    reason: Text


async def _in_scope(conn: Conn, caller: Principal, outbreak_id: int) -> dict[str, Any]:
    row = await repo.get_outbreak(conn, outbreak_id=outbreak_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no outbreak {outbreak_id}")
    if not caller.covers(row["site_id"], row["unit_id"]):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"outbreak {outbreak_id} is outside your scope"
        )
    return row


@router.get("")
async def list_outbreaks(
    conn: Conn,
    caller: Reader,
    request: Request,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    status_: Annotated[Status | None, Query(alias="status")] = None,
) -> OutbreakList:
    """Case files in the caller's scope, open ones first, newest first."""
    rows = await repo.list_outbreaks(
        conn,
        scope=caller.scope_sql("o.site_id", "o.unit_id"),
        status=status_,
        limit=limit,
        offset=offset,
    )
    await audit.record(conn, request, caller, "outbreak.list", "outbreaks")
    return OutbreakList(items=[OutbreakOut(**row) for row in rows])


@router.get("/{outbreak_id}", responses=errors(404))
async def get_outbreak(
    outbreak_id: int, conn: Conn, caller: CaseReader, request: Request
) -> OutbreakFile:
    row = await _in_scope(conn, caller, outbreak_id)
    cases = await repo.line_list(conn, outbreak_id=outbreak_id)
    await audit.record(
        conn, request, caller, "outbreak.read", f"outbreak/{outbreak_id}", site_id=row["site_id"]
    )
    return OutbreakFile(**row, line_list=[CaseOut(**c) for c in cases])


@router.get(
    "/{outbreak_id}/line-list",
    responses={
        200: {
            "content": {"application/json": {}, "text/csv": {}, XLSX: {}},
            "description": "the line list, as JSON, or as a CSV (format=csv) or XLSX"
            " (format=xlsx) file with the same rows",
        },
        **errors(404),
    },
)
async def line_list(
    outbreak_id: int,
    conn: Conn,
    caller: CaseReader,
    request: Request,
    format: Literal["csv", "json", "xlsx"] = "json",
) -> Any:
    """The line list, as JSON, as CSV (UTF-8 with a byte order mark, which spreadsheet
    programs need to read Chinese names) or as an XLSX workbook with the CSV's rows."""
    row = await _in_scope(conn, caller, outbreak_id)
    cases = [CaseOut(**c) for c in await repo.line_list(conn, outbreak_id=outbreak_id)]
    await audit.record(
        conn,
        request,
        caller,
        "outbreak.line_list",
        f"outbreak/{outbreak_id}",
        site_id=row["site_id"],
    )
    if format == "json":
        return {"items": [c.model_dump(mode="json") for c in cases]}
    rows = [_row(c) for c in cases]
    name = f"{'drill-' if row['drill'] else ''}outbreak-{outbreak_id}-line-list.{format}"
    # The XLSX's cells hold the CSV's text, so both carry the same rows (a name like a formula
    # escaped the same way: openpyxl would store "=..." as a formula).
    return table_download(CSV_COLUMNS, rows, format=format, filename=name, sheet="line list")


def _row(c: CaseOut) -> list[str | int]:
    return [
        c.person_kind,
        c.person_id,
        _cell(c.name or ""),
        c.unit_id,
        c.onset.isoformat(),
        " ".join(c.signs),
        "" if c.temperature is None else f"{c.temperature:.1f}",
        "DRILL" if c.drill else "",
    ]


def _cell(text: str) -> str:
    # A name starting like a formula would run as one in a spreadsheet (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@router.post("/{outbreak_id}/report", responses=errors(400, 404, 409))
async def report(
    outbreak_id: int, body: Report, conn: Conn, caller: Lead, request: Request
) -> OutbreakOut:
    """Reported to disease control: the case file closes."""
    now = datetime.now(UTC)
    when = body.reported_at or now
    if when > now + timedelta(minutes=5):
        raise invalid(["body", "reported_at"], "a report cannot be in the future")
    return await _close(
        conn,
        caller,
        request,
        outbreak_id,
        "reported",
        reported_at=when,
        reported_to=body.reported_to,
        reference=body.reference,
    )


@router.post("/{outbreak_id}/rule-out", responses=errors(400, 404, 409))
async def rule_out(
    outbreak_id: int, body: RuleOut, conn: Conn, caller: Lead, request: Request
) -> OutbreakOut:
    """Not an outbreak after all (the reason is kept): the case file closes."""
    return await _close(conn, caller, request, outbreak_id, "ruled_out", note=body.reason)


async def _close(
    conn: Conn,
    caller: Principal,
    request: Request,
    outbreak_id: int,
    to: Status,
    **fields: Any,
) -> OutbreakOut:
    row = await _in_scope(conn, caller, outbreak_id)
    async with conn.transaction():
        done = await repo.close(
            conn,
            outbreak_id=outbreak_id,
            status=to,
            by=caller.actor,
            now=datetime.now(UTC),
            **fields,
        )
        if not done:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"outbreak {outbreak_id} is closed already"
            )
        await audit.record(
            conn,
            request,
            caller,
            f"outbreak.{to}",
            f"outbreak/{outbreak_id}",
            site_id=row["site_id"],
        )
    closed = await repo.get_outbreak(conn, outbreak_id=outbreak_id)
    assert closed is not None
    return OutbreakOut(**closed)
