"""The checks an admission or a profile change passes before it is stored: dates not in the
future, a known time zone, rule overrides that validate once merged over the site's."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import HTTPException, status

from rules.errors import OverrideError
from services.api.deps import NO_NUL, Conn, invalid, nul_at
from services.api.repos import residents as repo
from services.records.crypto import RecordCipher
from services.records.digests import resident_with_national_id
from services.records.identity import national_id_birth_date
from services.records.store import patient_record
from services.resident_rules import check_resident_overrides

if TYPE_CHECKING:
    from services.api.routes.residents import ResidentIn, ResidentPatch


def invalid_field(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


def check_profile(body: ResidentIn | ResidentPatch) -> None:
    if body.birth_date is not None and body.birth_date > datetime.now(UTC).date():
        raise invalid_field("birth_date", "a birth date cannot be in the future")
    if body.ability is not None and body.ability.assessed_on > datetime.now(UTC).date():
        raise invalid(["body", "ability", "assessed_on"], "an assessment cannot be in the future")

    if body.timezone is not None:
        try:
            ZoneInfo(body.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid_field("timezone", f"unknown time zone {body.timezone!r}") from None
    if body.rule_overrides:
        found = nul_at(body.rule_overrides)  # stored as jsonb, which keeps no NUL character
        if found is not None:
            raise invalid(["body", "rule_overrides", *found], NO_NUL)


async def check_overrides(conn: Conn, site_id: str, overrides: dict[str, Any]) -> None:
    """422 naming each key at fault when `overrides` would not validate once merged over the
    site's, as the detector applies them (stored, they would be ignored: silently weaker)."""
    site = await repo.site_overrides(conn, site_id=site_id)
    try:
        check_resident_overrides(site, overrides)
    except OverrideError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["body", "rule_overrides", *key.split(".")],
                    "msg": f"{key}: {message}",
                    "type": "value_error",
                }
                for key, message in exc.problems
            ],
        ) from None


async def check_birth_date_as_stored(
    conn: Conn, resident_id: int, given: Mapping[str, Any], cipher: RecordCipher | None
) -> None:
    """A change of the birth date alone must agree with the national ID as stored, and of the
    national ID alone with the stored birth date (both at once: the model compares them).
    RecordUnavailable (503) when the stored ID cannot be read to compare."""
    birth, national = given.get("birth_date"), given.get("national_id")
    if (birth is None) == (national is None):
        return
    stored = await patient_record(
        conn, resident_id=resident_id, cipher=cipher, identifiers=birth is not None
    )
    if stored is None:
        return
    birth_date = birth if birth is not None else stored.birth_date
    national_id = national if national is not None else stored.national_id
    if birth_date is None or national_id is None:
        return
    if national_id_birth_date(national_id) != birth_date:
        raise invalid_field(
            "birth_date" if birth is not None else "national_id",
            "the birth date differs from the one in the national ID",
        )


def same_person(resident_id: int) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT,
        f"resident {resident_id} of this site is recorded with the same national ID: one"
        " person, one record (readmit or correct that one)",
    )


async def check_one_record_per_person(
    conn: Conn,
    site_id: str,
    national_id: str | None,
    cipher: RecordCipher | None,
    *,
    other_than: int | None = None,
) -> None:
    """409 when another resident of the site has this national ID."""
    if national_id is None or cipher is None:
        return  # no ID given; or no key, and to_columns refuses to store one (503)
    found = await resident_with_national_id(
        conn, site_id=site_id, national_id=national_id, cipher=cipher, other_than=other_than
    )
    if found is not None:
        raise same_person(found)


SAME_PERSON_RACE = "another resident of this site was recorded with the same national ID meanwhile"
