"""Identifiers and codes of the record, checked and masked. Pure.

The PRC resident ID (GB 11643-1999): 6 digits of the place of registration, the birth date
(YYYYMMDD), a 3-digit sequence (odd for men) and a check character, ISO 7064 MOD 11-2 over the
first 17 digits ("X" for 10)."""

from __future__ import annotations

import re
from datetime import date
from typing import Final

_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK: Final = "10X98765432"
_NATIONAL_ID: Final = re.compile(r"^[0-9]{17}[0-9X]$")
# WHO ICD-10 (A00-Z99, a category of a letter and two characters, e.g. U07) with an optional
# subdivision; the Chinese clinical edition extends it (e.g. I10.x00x032, E11.900).
ICD10: Final = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Za-z]{1,8})?$")


class IdentityError(ValueError):
    """An identifier or code of the wrong shape; `kind` names the error catalogue's entry
    (`error_type.<kind>`), the message never repeats the value (it may be a secret)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def national_id_birth_date(number: str) -> date:
    """The birth date a valid 18-character resident ID carries."""
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def check_national_id(value: str) -> str:
    """The resident ID normalised (upper-case X, no spaces), or IdentityError."""
    number = value.strip().replace(" ", "").upper()
    if not _NATIONAL_ID.match(number):
        raise IdentityError(
            "national_id_format", "must be 18 characters: 17 digits, then a digit or X"
        )
    try:
        national_id_birth_date(number)
    except ValueError:
        raise IdentityError(
            "national_id_date", "its birth date (characters 7-14) is not a date"
        ) from None
    if check_digit(number[:17]) != number[17]:
        raise IdentityError(
            "national_id_checksum", "its check character is wrong (GB 11643): a typing error?"
        )
    return number


def check_icd10(value: str) -> str:
    code = value.strip()
    if not ICD10.match(code):
        raise IdentityError(
            "icd10_format",
            "not an ICD-10 code: a letter, two characters, optionally . and more"
            " (e.g. I10, E11.900)",
        )
    return code


def mask_national_id(number: str) -> str:
    """The region (6) and the last 4 shown, the rest hidden: 110105********1234."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_number(number: str) -> str:
    """Any other number: only the last 4 shown (all hidden when it is that short)."""
    shown = number[-4:] if len(number) > 6 else ""
    return "*" * (len(number) - len(shown)) + shown


_INSURANCE: Final = re.compile(r"^[A-Za-z0-9]{4,32}$")
PHONE: Final = re.compile(r"^\+?[0-9][0-9 -]{4,22}[0-9]$")


def check_insurance_no(value: str) -> str:
    if not _INSURANCE.match(value):
        raise IdentityError("insurance_no_format", "must be 4 to 32 letters and digits")
    return value
