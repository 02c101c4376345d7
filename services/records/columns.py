"""The record between the API's fields and the residents table's columns (migration 0020):
identifiers encrypted on the way in, decrypted and masked by role on the way out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from psycopg.types.json import Jsonb

from services.auth.principal import Principal, Role
from services.records import identity
from services.records.crypto import NO_KEY, RecordCipher, RecordUnavailable
from services.records.model import RecordOut

# The columns, in the order the profile query reads them.
COLUMNS: Final[tuple[str, ...]] = (
    "sex",
    "birth_date",
    "national_id_enc",
    "insurance_no_enc",
    "phone",
    "address",
    "emergency_contacts",
    "diagnoses",
    "allergies",
    "medications",
    "ability_level",
    "ability_assessed_on",
    "ability_due_on",
)
_ENCRYPTED: Final = {"national_id": "national_id_enc", "insurance_no": "insurance_no_enc"}
_JSON: Final = ("emergency_contacts", "diagnoses")
_EMPTY: Final = ("emergency_contacts", "diagnoses", "allergies")  # NOT NULL, default empty

# Who sees identifiers whole (docs/security.md): the roles that admit residents and deal with
# insurers and hospitals about them, within their scope. Caregivers see the ends only.
UNMASKED_ROLES: Final[frozenset[Role]] = frozenset({"admin", "physician", "nurse"})


def sees_identifiers(caller: Principal) -> bool:
    return caller.role in UNMASKED_ROLES and caller.hospital_id is None


def to_columns(fields: Mapping[str, Any], cipher: RecordCipher | None) -> dict[str, Any]:
    """The columns for the given API fields (from `model_dump`); only those given."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _ENCRYPTED:
            if value is not None and cipher is None:
                raise RecordUnavailable(NO_KEY)
            out[_ENCRYPTED[name]] = None if value is None else cipher.encrypt(value)  # type: ignore[union-attr]
            if name == "national_id":  # compared by its digest (one record per person)
                out["national_id_digest"] = None if value is None else cipher.digest(value)  # type: ignore[union-attr]
        elif name == "ability":
            out["ability_level"] = None if value is None else value["level"]
            out["ability_assessed_on"] = None if value is None else value["assessed_on"]
            out["ability_due_on"] = None if value is None else value["due_on"]
        elif name in _EMPTY:
            items = [] if value is None else value
            out[name] = Jsonb(items) if name in _JSON else list(items)
        else:
            out[name] = value
    return out


def from_columns(
    row: Mapping[str, Any], cipher: RecordCipher | None, *, unmasked: bool
) -> RecordOut:
    """The record of a profile row, identifiers whole only when `unmasked`."""

    def shown(column: str, mask: Any) -> str | None:
        token = row[column]
        if token is None:
            return None
        if cipher is None:
            raise RecordUnavailable(NO_KEY)
        plain = cipher.decrypt(token)
        return plain if unmasked else str(mask(plain))

    level = row["ability_level"]
    return RecordOut(
        sex=row["sex"],
        birth_date=row["birth_date"],
        national_id=shown("national_id_enc", identity.mask_national_id),
        insurance_no=shown("insurance_no_enc", identity.mask_number),
        identifiers_masked=not unmasked,
        phone=row["phone"],
        address=row["address"],
        emergency_contacts=row["emergency_contacts"],
        diagnoses=row["diagnoses"],
        allergies=row["allergies"],
        medications=row["medications"],
        ability=None
        if level is None
        else {
            "level": level,
            "assessed_on": row["ability_assessed_on"],
            "due_on": row["ability_due_on"],
        },
    )
