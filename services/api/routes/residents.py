"""Residents: the admission profile, their devices' state, the latest vitals, the current NEWS2
with its parts, and manual observations from rounds. Every call is scoped to the caller's
sites and units and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, Field, model_validator

from rules.news2 import compute_news2
from rules.types import Vital
from rules.vocabulary import RANGES, VITAL_SIGNS
from services.api.deps import (
    AUTHENTICATED,
    OFFLINE_AFTER,
    PLACE_ID,
    Conn,
    Instant,
    OfflineReason,
    Offset,
    PgText,
    errors,
    require,
    resident_in_scope,
)
from services.api.repos import residents as repo
from services.api.repos.news2 import open_alert_bands
from services.api.routes.news2 import News2Out, news2_out
from services.api.routes.resident_checks import (
    SAME_PERSON_RACE,
    check_birth_date_as_stored,
    check_one_record_per_person,
    check_overrides,
    check_profile,
    invalid_field,
)
from services.auth import audit
from services.auth.principal import Principal
from services.careteam.store import current_team
from services.readings import latest_vitals as stored_latest
from services.readings import news2_lookback
from services.records import columns as record_columns
from services.records.crypto import RecordCipher
from services.records.model import RECORD_FIELDS, RecordFields, RecordOut
from services.resident_rules import effective_rules

router = APIRouter(prefix="/api/v1/residents", tags=["residents"], responses=AUTHENTICATED)

Reader = Annotated[Principal, Depends(require("residents:read"))]
Writer = Annotated[Principal, Depends(require("residents:write"))]
Observer = Annotated[Principal, Depends(require("observations:write"))]

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Text = Annotated[PgText, Field(min_length=1, max_length=200)]
Short = Annotated[PgText, Field(max_length=40)]
Condition = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")]
ACVPU = ("A", "C", "V", "P", "U")  # NEWS2's consciousness scale, coded 0-4 in readings
# Vitals older than this are not "current".
LATEST_WINDOW = timedelta(hours=24)


class DeviceState(BaseModel):
    device_id: str
    kind: str
    online: bool | None = Field(
        description="null: never heard from; judged as on GET /api/v1/devices"
    )
    offline_reason: OfflineReason | None = Field(
        description="disconnected: its last word was an offline status (its last will);"
        " silent: nothing heard for 5 minutes"
    )
    battery: float | None
    worn: bool | None = Field(description="wearables: false after a wear_off event")
    last_seen: datetime | None


class ResidentOut(RecordOut):
    resident_id: int
    site_id: str
    unit_id: str
    display_name: str
    room: str | None
    bed: str | None
    conditions: list[str]
    fall_risk: bool
    news2_scale: int
    timezone: str
    site_timezone: str = Field(
        description="the site's time zone (the care team's `alerts.site_timezones`, else its"
        " default): the pages show times in it"
    )
    rule_overrides: dict[str, Any]
    # admitted, in_hospital, discharged, deceased (POST .../status); the list keeps everyone.
    status: str
    comfort_care: bool
    devices: list[DeviceState]


class ResidentPage(BaseModel):
    items: list[ResidentOut]
    limit: int
    offset: int


class ResidentIn(RecordFields):
    """The admission profile and, optional, the resident record (services/records/model.py)."""

    site_id: Id
    unit_id: Id
    display_name: Text
    room: Short | None = None
    bed: Short | None = None
    conditions: list[Condition] = Field(default_factory=list, max_length=40)
    fall_risk: bool = False
    news2_scale: Literal[1, 2] = Field(
        default=1, description="2 for hypercapnic respiratory failure (target SpO2 88-92 %)"
    )
    timezone: str = "Asia/Shanghai"
    rule_overrides: dict[str, Any] = Field(
        default_factory=dict, description="per-resident rule settings (admission assessment)"
    )


class ResidentPatch(RecordFields):
    """Fields given are changed (a record field given null is cleared); others are kept."""

    display_name: Text | None = None
    room: Short | None = None
    bed: Short | None = None
    unit_id: Id | None = None
    conditions: list[Condition] | None = Field(default=None, max_length=40)
    fall_risk: bool | None = None
    news2_scale: Literal[1, 2] | None = None
    timezone: str | None = None
    rule_overrides: dict[str, Any] | None = None


class Observations(BaseModel):
    """One round's observations; at least one value. Ranges as the device protocol's."""

    acvpu: Literal["A", "C", "V", "P", "U"] | None = None
    sbp: float | None = Field(default=None, ge=RANGES["sbp"][0], le=RANGES["sbp"][1])
    dbp: float | None = Field(default=None, ge=RANGES["dbp"][0], le=RANGES["dbp"][1])
    temp: float | None = Field(default=None, ge=RANGES["temp"][0], le=RANGES["temp"][1])
    hr: float | None = Field(default=None, ge=RANGES["hr"][0], le=RANGES["hr"][1])
    rr: float | None = Field(default=None, ge=RANGES["rr"][0], le=RANGES["rr"][1])
    spo2: float | None = Field(default=None, ge=RANGES["spo2"][0], le=RANGES["spo2"][1])
    on_o2: bool | None = Field(default=None, description="on supplemental oxygen")
    ts: Instant | None = Field(default=None, description="when observed; default now")

    @model_validator(mode="after")
    def _some(self) -> Observations:
        if not self.values():
            raise ValueError("give at least one observation (acvpu, sbp, dbp, temp, hr, ...)")
        return self

    def values(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name in VITAL_SIGNS:
            value = getattr(self, name)
            if value is not None:
                out[name] = float(value)
        if self.acvpu is not None:
            out["acvpu"] = float(ACVPU.index(self.acvpu))
        if self.on_o2 is not None:
            out["on_o2"] = 1.0 if self.on_o2 else 0.0
        return out


class Reading(BaseModel):
    value: float
    ts: datetime
    source: str


def _cipher(request: Request) -> RecordCipher | None:
    cipher: RecordCipher | None = request.app.state.records
    return cipher


async def _with_devices(
    conn: Conn, profiles: list[dict[str, Any]], request: Request, caller: Principal
) -> list[ResidentOut]:
    rows = await repo.devices_of(
        conn, resident_ids=[p["resident_id"] for p in profiles], offline_after=OFFLINE_AFTER
    )
    devices: dict[int, list[DeviceState]] = {}
    for d in rows:
        devices.setdefault(d.resident_id, []).append(
            DeviceState(
                device_id=d.device_id,
                kind=d.kind,
                online=None if d.seen is None else d.online,
                offline_reason=d.offline_reason,
                battery=d.battery,
                worn=None if d.kind != "wearable" or d.wear is None else d.wear == "wear_on",
                last_seen=d.seen,
            )
        )
    _, team = await current_team(conn)
    unmasked = record_columns.sees_identifiers(caller)
    out = []
    for p in profiles:
        # No key, or one that does not decrypt: RecordUnavailable, a 503 (services/api/app.py).
        record = record_columns.from_columns(p, _cipher(request), unmasked=unmasked)
        base = {k: v for k, v in p.items() if k not in record_columns.COLUMNS}
        out.append(
            ResidentOut(
                **base,
                **dict(record),
                site_timezone=team.alerts.timezone_of(p["site_id"]),
                devices=devices.get(p["resident_id"], []),
            )
        )
    return out


MAX_OBSERVATION_AGE = timedelta(days=7)


@router.get("")
async def list_residents(
    conn: Conn,
    caller: Reader,
    request: Request,
    site: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    unit: Annotated[str | None, Query(pattern=PLACE_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> ResidentPage:
    """The residents in the caller's scope, by unit, room and bed."""
    scope = caller.place_sql("site_id", "unit_id", site, unit)
    profiles = await repo.list_profiles(conn, scope=scope, limit=limit, offset=offset)
    items = await _with_devices(conn, profiles, request, caller)
    await audit.record(conn, request, caller, "residents.list", "residents", site_id=site)
    return ResidentPage(items=items, limit=limit, offset=offset)


@router.post("", status_code=status.HTTP_201_CREATED, responses=errors(400, 409))
async def admit_resident(
    body: ResidentIn, conn: Conn, caller: Writer, request: Request
) -> ResidentOut:
    if not caller.covers(body.site_id, body.unit_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "that unit is outside your scope")
    check_profile(body)
    if not await repo.unit_exists(conn, site_id=body.site_id, unit_id=body.unit_id):
        raise invalid_field("unit_id", f"no unit {body.unit_id!r} at site {body.site_id!r}")
    await check_overrides(conn, body.site_id, body.rule_overrides)
    fields = body.model_dump(include=set(RECORD_FIELDS))
    await check_one_record_per_person(conn, body.site_id, body.national_id, _cipher(request))
    record = record_columns.to_columns(fields, _cipher(request))
    try:
        profile = await _insert(conn, body, record)
    except repo.SamePerson:
        raise HTTPException(status.HTTP_409_CONFLICT, SAME_PERSON_RACE) from None
    (resident,) = await _with_devices(conn, [profile], request, caller)
    await audit.record(
        conn,
        request,
        caller,
        "resident.create",
        f"resident/{resident.resident_id}",
        resident_id=resident.resident_id,
        site_id=resident.site_id,
        status=201,
    )
    return resident


async def _insert(conn: Conn, body: ResidentIn, record: dict[str, Any]) -> dict[str, Any]:
    return await repo.insert_resident(
        conn,
        site_id=body.site_id,
        unit_id=body.unit_id,
        display_name=body.display_name,
        room=body.room,
        bed=body.bed,
        conditions=sorted(set(body.conditions)),
        fall_risk=body.fall_risk,
        news2_scale=body.news2_scale,
        timezone=body.timezone,
        rule_overrides=body.rule_overrides,
        record=record,
    )


async def _profile(
    conn: Conn, resident_id: int, request: Request, caller: Principal
) -> ResidentOut:
    profile = await repo.get_profile(conn, resident_id=resident_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no resident {resident_id}")
    (resident,) = await _with_devices(conn, [profile], request, caller)
    return resident


@router.get("/{resident_id}", responses=errors(404))
async def get_resident(
    resident_id: int, conn: Conn, caller: Reader, request: Request
) -> ResidentOut:
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    resident = await _profile(conn, resident_id, request, caller)
    await audit.record(
        conn,
        request,
        caller,
        "resident.read",
        f"resident/{resident_id}",
        resident_id=resident_id,
        site_id=site_id,
    )
    return resident


@router.patch("/{resident_id}", responses=errors(400, 404, 409))
async def update_resident(
    resident_id: int, body: ResidentPatch, conn: Conn, caller: Writer, request: Request
) -> ResidentOut:
    """Change the profile (a move to another unit of the site, the admission assessment's
    conditions, fall risk, NEWS2 scale, rule overrides) and the record. The detector applies
    it within minutes."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    changes = body.model_dump(exclude_unset=True)
    if "unit_id" in changes and not caller.covers(site_id, changes["unit_id"]):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "that unit is outside your scope")
    for field in (
        "display_name",
        "unit_id",
        "conditions",
        "fall_risk",
        "news2_scale",
        "timezone",
        "rule_overrides",
    ):
        if field in changes and changes[field] is None:
            raise invalid_field(field, f"{field} cannot be null")
    check_profile(body)
    if "rule_overrides" in changes:
        await check_overrides(conn, site_id, changes["rule_overrides"])
    if not changes:
        return await _profile(conn, resident_id, request, caller)
    if "conditions" in changes:
        changes["conditions"] = sorted(set(changes["conditions"]))
    record = {name: changes.pop(name) for name in RECORD_FIELDS if name in changes}
    await check_birth_date_as_stored(conn, resident_id, record, _cipher(request))
    await check_one_record_per_person(
        conn, site_id, record.get("national_id"), _cipher(request), other_than=resident_id
    )
    changes.update(record_columns.to_columns(record, _cipher(request)))
    scale_was = None
    if "news2_scale" in changes:
        scale_was = await repo.news2_scale(conn, resident_id=resident_id)
    # The names are the model's fields, never input.
    try:
        updated = await repo.update_profile(conn, resident_id=resident_id, changes=changes)
    except repo.SamePerson:
        raise HTTPException(status.HTTP_409_CONFLICT, SAME_PERSON_RACE) from None
    if not updated:
        raise invalid_field("unit_id", f"no unit {changes.get('unit_id')!r} here")
    await audit.record(
        conn,
        request,
        caller,
        "resident.update",
        f"resident/{resident_id}",
        resident_id=resident_id,
        site_id=site_id,
    )
    if scale_was is not None and scale_was != changes["news2_scale"]:
        # A clinician's decision that switches the resident's SpO2 scoring and SpO2 alarm
        # limits: its own entry, saying from what to what.
        await audit.record(
            conn,
            request,
            caller,
            "resident.news2_scale",
            f"resident/{resident_id}/news2_scale/{scale_was}->{changes['news2_scale']}",
            resident_id=resident_id,
            site_id=site_id,
        )
    return await _profile(conn, resident_id, request, caller)


@router.get("/{resident_id}/latest", responses=errors(404))
async def latest_vitals(
    resident_id: int, conn: Conn, caller: Reader, request: Request
) -> dict[str, Reading]:
    """The latest value of each metric in the last 24 h (wearables, bed sensors and rounds)."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    latest = await _latest(conn, resident_id, datetime.now(UTC))
    await audit.record(
        conn,
        request,
        caller,
        "vitals.latest",
        f"resident/{resident_id}",
        resident_id=resident_id,
        site_id=site_id,
    )
    return {
        metric: Reading(value=v.value, ts=v.ts, source=v.source) for metric, v in latest.items()
    }


async def _latest(conn: Conn, resident_id: int, now: datetime) -> dict[str, Vital]:
    return await stored_latest(
        conn, resident_id, since=now - LATEST_WINDOW, until=now + timedelta(minutes=5)
    )


@router.get("/{resident_id}/news2", responses=errors(404))
async def current_news2(resident_id: int, conn: Conn, caller: Reader, request: Request) -> News2Out:
    """NEWS2 now, from the freshest reading of each parameter within its freshness window,
    wearable and manual alike; incomplete (no total) when a parameter is missing or stale."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    settings = await repo.news2_settings(conn, resident_id=resident_id)
    assert settings is not None  # in scope, so it exists
    scale, site_overrides, own_overrides = settings
    config = effective_rules(site_overrides, own_overrides, resident_id=resident_id)
    now = datetime.now(UTC)
    # As far back as a reading can still count under this resident's freshness settings.
    latest = await stored_latest(
        conn,
        resident_id,
        since=now - news2_lookback(config.news2),
        until=now + timedelta(minutes=5),
    )
    result = compute_news2(
        latest,
        scale=scale,
        now=now,
        config=config.news2,
        level_at_least=(await open_alert_bands(conn, [resident_id])).get(resident_id),
    )
    await audit.record(
        conn,
        request,
        caller,
        "news2.read",
        f"resident/{resident_id}",
        resident_id=resident_id,
        site_id=site_id,
    )
    return news2_out(resident_id, result)


@router.post(
    "/{resident_id}/observations", status_code=status.HTTP_201_CREATED, responses=errors(400, 404)
)
async def record_observations(
    resident_id: int, body: Observations, conn: Conn, caller: Observer, request: Request
) -> dict[str, Reading]:
    """Manual observations from a round. They are stored with the wearable readings (source
    `manual`) and the detector takes them into NEWS2 within a tick."""
    site_id, _ = await resident_in_scope(conn, caller, resident_id)
    now = datetime.now(UTC)
    ts = body.ts or now
    if ts > now + timedelta(minutes=5):
        raise invalid_field("ts", "an observation cannot be in the future")
    if ts < now - MAX_OBSERVATION_AGE:
        # A round charted a week late is a data-entry error, not a late round; ancient times
        # would also reach the detector's date arithmetic.
        raise invalid_field(
            "ts", f"an observation cannot be more than {MAX_OBSERVATION_AGE.days} days old"
        )
    values = body.values()
    async with conn.transaction():
        await repo.record_observations(
            conn, resident_id=resident_id, values=values, ts=ts, now=now, recorded_by=caller.actor
        )
        await audit.record(
            conn,
            request,
            caller,
            "observation.create",
            f"resident/{resident_id}",
            resident_id=resident_id,
            site_id=site_id,
            status=201,
        )
    return {m: Reading(value=v, ts=ts, source="manual") for m, v in values.items()}
