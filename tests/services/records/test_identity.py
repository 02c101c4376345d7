"""Resident ID checksums (GB 11643), ICD-10 shapes and masking, table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from services.records import identity

# The example of GB 11643-1999 itself, and one with a digit check character.
VALID = ("11010519491231002X", "440304199001011233")


@pytest.mark.parametrize("number", VALID)
def test_valid_resident_ids_pass_and_carry_their_birth_date(number: str) -> None:
    assert identity.check_national_id(number) == number
    assert identity.check_national_id(f" {number.lower()} ") == number
    assert identity.national_id_birth_date(number).year in (1949, 1990)


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("110105194912310021", "national_id_checksum"),  # last character mistyped
        ("11010519491231002Y", "national_id_format"),
        ("1101051949123100", "national_id_format"),  # too short
        ("110105194913310028", "national_id_date"),  # month 13
        ("1101051949123100２X", "national_id_format"),  # a full-width digit
    ],
    ids=["checksum", "letter", "short", "month-13", "full-width"],
)
def test_invalid_resident_ids_name_what_is_wrong_without_the_number(number: str, kind: str) -> None:
    with pytest.raises(identity.IdentityError) as caught:
        identity.check_national_id(number)
    assert caught.value.kind == kind
    assert number[:6] not in str(caught.value)


def test_a_single_swapped_digit_is_caught() -> None:
    number = VALID[1]
    swapped = number[:8] + number[9] + number[8] + number[10:]
    assert swapped != number
    with pytest.raises(identity.IdentityError):
        identity.check_national_id(swapped)


@pytest.mark.parametrize("code", ["I10", "E11.9", "E11.900", "I10.x00x032", "U07.1", "J44"])
def test_icd10_codes_of_both_editions_pass(code: str) -> None:
    assert identity.check_icd10(code) == code


@pytest.mark.parametrize(
    "code", ["i10", "10", "I1", "E11.", "E11-9", "hypertension", "E11.9000000000"]
)
def test_other_codes_are_refused(code: str) -> None:
    with pytest.raises(identity.IdentityError) as caught:
        identity.check_icd10(code)
    assert caught.value.kind == "icd10_format"


def test_masks_keep_only_the_ends() -> None:
    assert identity.mask_national_id("110105194912311234") == "110105********1234"
    assert identity.mask_number("ZJ1234567890") == "********7890"
    assert identity.mask_number("12345") == "*****"  # short: nothing shown


def test_the_birth_date_read_from_the_id() -> None:
    assert identity.national_id_birth_date(VALID[0]) == date(1949, 12, 31)
