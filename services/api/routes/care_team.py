"""The care team document (staff, shifts, contacts, partner hospitals, alert policy): read it,
replace it. Validated as a whole before it is stored; every problem is named by its path."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException

from services.alerts.delivery import scheme_of
from services.alerts.errors import AlertConfigError
from services.alerts.team import load_care_team, roster_of
from services.alerts.team_store import current_team, placements, store_team
from services.api.deps import Conn, require
from services.auth.principal import Principal

router = APIRouter(prefix="/api/v1/care-team", tags=["care team"])


def _redacted(document: dict[str, Any]) -> dict[str, Any]:
    """Channel URLs can hold passwords and tokens: shown by scheme only."""
    for key in ("staff", "hospitals"):
        for entry in document.get(key, []):
            entry["channels"] = [f"{scheme_of(url)}://…" for url in entry["channels"]]
    return document


@router.get("")
async def get_care_team(
    conn: Conn, _caller: Annotated[Principal, Depends(require("care_team:read"))]
) -> dict[str, Any]:
    version, team = await current_team(conn)
    return {"version": version, "document": _redacted(team.model_dump(mode="json"))}


@router.put("")
async def put_care_team(
    conn: Conn,
    caller: Annotated[Principal, Depends(require("care_team:write"))],
    document: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Replace the document; the alert service applies it within a second."""
    try:
        team = load_care_team(document)
        roster_of(team, await placements(conn))
    except AlertConfigError as exc:
        raise HTTPException(
            422,
            [{"loc": key.split("."), "msg": msg} for key, msg in exc.problems],
        ) from None
    async with conn.transaction():
        version = await store_team(conn, team, by=caller.username)
    return {"version": version}
